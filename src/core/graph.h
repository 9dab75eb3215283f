// A compute graph: the op nodes needed for some output tensors, listed in a valid execution
// (topological) order, plus the leaves they read. Built by expanding outputs; the order of
// expand() calls is kept, so a KV-cache write expanded before the attention that reads the cache
// runs first. dump_dot() writes it as Graphviz for `--dump-graph FILE`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ptr_map.h"
#include "core/tensor.h"

namespace hearth {

class Graph {
public:
    // Add t and every not-yet-added tensor it depends on (sources and view sources), depth-first,
    // so each node comes after all its inputs. Leaves (op None) go to leafs(), everything else,
    // views included, to nodes(). Adding a tensor twice is a no-op.
    void expand(Tensor* t);

    const std::vector<Tensor*>& nodes() const { return nodes_; }  // op != None, execution order
    const std::vector<Tensor*>& leafs() const { return leafs_; }  // op == None
    size_t size() const { return nodes_.size(); }
    Tensor* node(size_t i) const { return nodes_[i]; }
    // The last node expanded (usually the logits).
    Tensor* back() const { return nodes_.empty() ? nullptr : nodes_.back(); }

    // Forget all nodes; keeps capacity.
    void clear();

    // Changes whenever nodes are added or cleared: a scheduler that planned (this graph, version)
    // knows the node list is still the one it planned.
    uint64_t version() const { return version_; }

    // Look up a node or leaf by name (first match); nullptr if absent. Linear; for tests/debugging.
    Tensor* find(const char* name) const;

private:
    std::vector<Tensor*> nodes_;
    std::vector<Tensor*> leafs_;
    PtrMap<char> seen_;  // tensors already added (allocation-free once warm)
    std::vector<std::pair<Tensor*, int>> stack_;  // reused DFS stack
    uint64_t version_ = 0;
};

// Graphviz DOT: one box per node (name, op, type, shape), one ellipse per leaf, edges src -> node.
// Throws Error(Io) when the file cannot be written.
void dump_dot(const Graph& g, const std::string& path);
std::string graph_to_dot(const Graph& g);

}  // namespace hearth

// Graph construction (iterative depth-first post-order over sources) and Graphviz DOT export.
#include "core/graph.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace hearth {
namespace {

// Dependencies of t: its op sources, then (for views) the tensor whose memory it shares.
Tensor* dependency(const Tensor* t, int i) {
    if (i < kMaxSrc) return t->src[i];
    if (i == kMaxSrc) return t->view_src;
    return nullptr;
}
constexpr int kNumDeps = kMaxSrc + 1;

}  // namespace

void Graph::expand(Tensor* root) {
    if (!root || !seen_.try_emplace(root).second) return;
    ++version_;
    stack_.clear();
    stack_.push_back({root, 0});
    while (!stack_.empty()) {
        auto& [t, next] = stack_.back();
        if (next < kNumDeps) {
            Tensor* d = dependency(t, next++);
            if (d && seen_.try_emplace(d).second) stack_.push_back({d, 0});
            continue;
        }
        if (t->op == OpKind::None)
            leafs_.push_back(t);
        else
            nodes_.push_back(t);
        stack_.pop_back();
    }
}

void Graph::clear() {
    nodes_.clear();
    leafs_.clear();
    seen_.clear();
    ++version_;
}

Tensor* Graph::find(const char* name) const {
    for (Tensor* t : nodes_)
        if (std::strcmp(t->name, name) == 0) return t;
    for (Tensor* t : leafs_)
        if (std::strcmp(t->name, name) == 0) return t;
    return nullptr;
}

std::string graph_to_dot(const Graph& g) {
    std::ostringstream os;
    auto id = [](const Tensor* t) {
        std::ostringstream s;
        s << "t" << static_cast<const void*>(t);
        return s.str();
    };
    auto label = [](const Tensor* t) {
        std::string s = t->name[0] ? t->name : "(unnamed)";
        std::string out;
        for (char c : s) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        char shape[128];
        std::snprintf(shape, sizeof shape, "\\n%s %s [%lld,%lld,%lld,%lld]", op_name(t->op), dtype_name(t->type),
                      static_cast<long long>(t->ne[0]), static_cast<long long>(t->ne[1]),
                      static_cast<long long>(t->ne[2]), static_cast<long long>(t->ne[3]));
        return out + shape;
    };
    os << "digraph hearth {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n";
    for (const Tensor* t : g.leafs()) {
        const char* color = (t->flags & kFlagWeight) ? "lightyellow" : (t->flags & kFlagInput) ? "lightblue" : "white";
        os << "  " << id(t) << " [shape=ellipse, style=filled, fillcolor=" << color << ", label=\"" << label(t)
           << "\"];\n";
    }
    for (const Tensor* t : g.nodes()) {
        const char* color = t->op == OpKind::View ? "lightgrey" : (t->flags & kFlagOutput) ? "lightpink" : "white";
        os << "  " << id(t) << " [shape=box, style=filled, fillcolor=" << color << ", label=\"" << label(t) << "\"];\n";
    }
    for (const Tensor* t : g.nodes()) {
        for (int i = 0; i < kMaxSrc; ++i)
            if (t->src[i]) os << "  " << id(t->src[i]) << " -> " << id(t) << " [label=\"" << i << "\"];\n";
        if (t->view_src && t->view_src != t->src[0])
            os << "  " << id(t->view_src) << " -> " << id(t) << " [style=dashed];\n";
    }
    os << "}\n";
    return os.str();
}

void dump_dot(const Graph& g, const std::string& path) {
    std::ofstream f(path);
    if (!f) throw Error(ErrorKind::Io, "cannot open '" + path + "' for writing the graph dump");
    f << graph_to_dot(g);
    if (!f) throw Error(ErrorKind::Io, "failed writing the graph dump to '" + path + "'");
}

}  // namespace hearth

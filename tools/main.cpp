// Entry point of the `hearth` command: dispatches to a registered subcommand and turns escaping
// hearth::Error exceptions into a one-line message and exit code 2 (never a crash on bad input).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>

#include "command.h"
#include "core/error.h"

namespace hearth::cli {

static std::vector<Command>& command_table() {
    static std::vector<Command> table;
    return table;
}

CommandRegistration::CommandRegistration(const char* name, const char* summary, CommandFn run) {
    command_table().push_back({name, summary, run});
}

const std::vector<Command>& registered_commands() { return command_table(); }

static void print_usage() {
    std::fprintf(stderr, "usage: hearth <command> [options]\n\ncommands:\n");
    auto commands = registered_commands();
    std::sort(commands.begin(), commands.end(),
              [](const Command& a, const Command& b) { return std::strcmp(a.name, b.name) < 0; });
    for (const auto& c : commands) std::fprintf(stderr, "  %-12s %s\n", c.name, c.summary);
    std::fprintf(stderr, "\nRun 'hearth <command> --help' for a command's options.\n");
}

}  // namespace hearth::cli

int main(int argc, char** argv) {
    using namespace hearth::cli;
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        print_usage();
        return argc < 2 ? 1 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::printf("hearth 0.1.0\n");
        return 0;
    }
    for (const auto& c : registered_commands()) {
        if (std::strcmp(c.name, argv[1]) != 0) continue;
        std::vector<std::string> args(argv + 2, argv + argc);
        try {
            return c.run(args);
        } catch (const hearth::Error& e) {
            std::fprintf(stderr, "hearth %s: error (%s): %s\n", c.name, hearth::error_kind_name(e.kind()),
                         e.what());
            return 2;
        } catch (const std::bad_alloc&) {
            std::fprintf(stderr, "hearth %s: error: out of memory\n", c.name);
            return 2;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "hearth %s: error: %s\n", c.name, e.what());
            return 2;
        }
    }
    std::fprintf(stderr, "hearth: unknown command '%s'\n\n", argv[1]);
    print_usage();
    return 1;
}

// The `hearth` command's subcommand registry. Each subcommand lives in its own tools/cmd_*.cpp and
// registers itself with one static CommandRegistration, so adding a subcommand touches one file.
// Exit codes: 0 success, 1 usage error, 2 bad input (the specific error is printed on stderr).
#pragma once

#include <string>
#include <vector>

namespace hearth::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);  // args exclude "hearth <name>"

struct Command {
    const char* name;
    const char* summary;
    CommandFn run;
};

struct CommandRegistration {
    CommandRegistration(const char* name, const char* summary, CommandFn run);
};

const std::vector<Command>& registered_commands();

}  // namespace hearth::cli

// `hearth template`: renders a Jinja chat template with a JSON context (messages, tools, ...) and
// prints the result exactly (no added newline); used to compare hearth with Python's jinja2.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "chat/jinja.h"
#include "command.h"
#include "core/error.h"

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw hearth::Error(hearth::ErrorKind::Io, "cannot open '" + path + "'");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

int run_template(const std::vector<std::string>& args) {
    std::string file, context_file;
    hearth::jinja::RenderOptions opt;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
        if (a == "--file" || a == "--context-json") {
            const std::string* v = value();
            if (!v) {
                std::fprintf(stderr, "hearth template: %s needs a value\n", a.c_str());
                return 1;
            }
            (a == "--file" ? file : context_file) = *v;
        } else if (a == "--now") {
            const std::string* v = value();
            if (!v) {
                std::fprintf(stderr, "hearth template: --now needs a Unix time\n");
                return 1;
            }
            opt.fixed_time = std::atoll(v->c_str());
        } else if (a == "--html-safe-tojson") {
            opt.html_safe_tojson = true;
        } else if (a == "--allow-mutation") {
            opt.immutable = false;
        } else if (a == "--help" || a == "-h") {
            std::printf("usage: hearth template --file T.jinja [--context-json C.json] [--now UNIX_TIME] [--html-safe-tojson] [--allow-mutation]\n");
            return 0;
        } else {
            std::fprintf(stderr, "hearth template: unknown option '%s'\n", a.c_str());
            return 1;
        }
    }
    if (file.empty()) {
        std::fprintf(stderr, "usage: hearth template --file T.jinja [--context-json C.json]\n");
        return 1;
    }
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    if (!context_file.empty()) {
        try {
            ctx = nlohmann::ordered_json::parse(read_file(context_file));
        } catch (const nlohmann::json::exception& e) {
            throw hearth::Error(hearth::ErrorKind::InvalidArgument, std::string("context JSON: ") + e.what());
        }
    }
    std::string out = hearth::jinja::render_string(read_file(file), hearth::jinja::Value::from_json(ctx), opt);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

const hearth::cli::CommandRegistration reg("template", "render a Jinja chat template with a JSON context", run_template);

}  // namespace

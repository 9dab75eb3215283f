// Text utility routes: /tokenize (optionally with pieces), /detokenize and /apply-template (the
// chat prompt the server would build for a messages array).
#include "core/error.h"
#include "server/server_state.h"
#include "server/text_stream.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

using ojson = nlohmann::ordered_json;
using nlohmann::json;

void register_token_routes(Server::State& st) {
    st.http.Post("/tokenize", [&st](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            require_ready(st);
            ojson body = parse_body(req.body, st.cfg.limits);
            auto content = get_string_field(body, "content");
            if (!content) throw bad_request("'content' must be a string", "content");
            bool add_special = get_bool_field(body, "add_special").value_or(false);
            bool parse_special = get_bool_field(body, "parse_special").value_or(true);
            bool with_pieces = get_bool_field(body, "with_pieces").value_or(false);
            std::vector<int32_t> ids = st.tokenizer().encode(*content, add_special, parse_special);
            json tokens = json::array();
            for (int32_t id : ids) {
                if (!with_pieces) {
                    tokens.push_back(id);
                    continue;
                }
                std::string piece = st.tokenizer().token_to_piece(id, true);
                std::string clean = utf8_sanitize(piece);
                if (clean == piece) {
                    tokens.push_back({{"id", id}, {"piece", piece}});
                } else {  // not valid UTF-8 on its own: give the bytes
                    json bytes = json::array();
                    for (unsigned char c : piece) bytes.push_back(int(c));
                    tokens.push_back({{"id", id}, {"piece", bytes}});
                }
            }
            send_json(res, {{"tokens", tokens}});
        });
    });

    st.http.Post("/detokenize", [&st](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            require_ready(st);
            ojson body = parse_body(req.body, st.cfg.limits);
            std::vector<int32_t> ids;
            if (body.contains("tokens")) ids = get_token_array(body["tokens"], "tokens", int32_t(st.model->n_vocab()));
            send_json(res, {{"content", utf8_sanitize(st.tokenizer().decode(ids, false))}});
        });
    });

    st.http.Post("/apply-template", [&st](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            require_ready(st);
            ojson body = parse_body(req.body, st.cfg.limits);
            GenerationRequest r = parse_generation_request(body, Endpoint::Chat, st.cfg.limits, int32_t(st.model->n_vocab()));
            send_json(res, {{"prompt", st.chat.render(r.messages, r.tools, r.chat_template_kwargs)}});
        });
    });
}

}  // namespace hearth::server

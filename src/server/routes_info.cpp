// Read-only routes: /health (503 while loading), /v1/models and /models, /props, /slots and the
// Prometheus /metrics (only with --metrics, as in llama-server).
#include "core/error.h"
#include "server/server_state.h"
#include "tokenizer/tokenizer.h"

namespace hearth::server {

using nlohmann::json;

namespace {

// Runs a handler body, turning ApiError/Error into error responses.
json models_json(const Server::State& st) {
    json meta = {{"n_ctx_train", st.model->n_ctx_train()},
                 {"n_embd", st.model->n_embd()},
                 {"n_vocab", st.model->n_vocab()},
                 {"size", st.model->weight_bytes()},
                 {"architecture", st.model->architecture()}};
    json model = {{"id", st.model_id}, {"object", "model"}, {"created", st.created}, {"owned_by", "hearth"}, {"meta", meta}};
    return {{"object", "list"}, {"data", json::array({model})}, {"models", json::array({{{"name", st.model_id}, {"model", st.model_id}}})}};
}

}  // namespace

void register_info_routes(Server::State& st) {
    auto health = [&st](const httplib::Request&, httplib::Response& res) {
        if (!st.ready.load()) {
            send_error(res, ApiError(503, "Loading model"));
            return;
        }
        send_json(res, {{"status", "ok"}});
    };
    st.http.Get("/health", health);
    st.http.Get("/v1/health", health);

    auto models = [&st](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] {
            require_ready(st);
            send_json(res, models_json(st));
        });
    };
    st.http.Get("/v1/models", models);
    st.http.Get("/models", models);

    st.http.Get("/props", [&st](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] {
            require_ready(st);
            SamplerParams d;
            json settings = {{"n_ctx", st.backend->n_ctx()},
                             {"params",
                              {{"temperature", d.temperature},
                               {"top_k", d.top_k},
                               {"top_p", d.top_p},
                               {"min_p", d.min_p},
                               {"typical_p", d.typical_p},
                               {"repeat_penalty", d.repeat_penalty},
                               {"repeat_last_n", d.penalty_last_n},
                               {"n_predict", -1}}}};
            send_json(res, {{"default_generation_settings", settings},
                            {"total_slots", st.cfg.n_slots},
                            {"model_alias", st.model_id},
                            {"model_path", st.cfg.model_path},
                            {"chat_template", st.chat.template_source},
                            {"bos_token", st.chat.bos_token},
                            {"eos_token", st.chat.eos_token},
                            {"modalities", {{"vision", false}, {"audio", false}}},
                            {"build_info", "hearth 0.1.0"}});
        });
    });

    st.http.Get("/slots", [&st](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] {
            require_ready(st);
            json out = json::array();
            for (const SlotInfo& s : st.scheduler->slots()) {
                out.push_back({{"id", s.id},
                               {"n_ctx", st.backend->n_ctx()},
                               {"is_processing", s.processing},
                               {"n_prompt_tokens", s.n_prompt},
                               {"n_past", s.n_past},
                               {"n_decoded", s.n_decoded},
                               {"n_cached", s.n_cached}, {"n_shifts", s.n_shifts}});
            }
            send_json(res, out);
        });
    });

    st.http.Get("/metrics", [&st](const httplib::Request&, httplib::Response& res) {
        guarded(res, [&] {
            if (!st.cfg.metrics) throw ApiError(501, "This server does not support metrics endpoint. Start it with `--metrics`.");
            require_ready(st);
            res.set_content(st.metrics.render(st.scheduler->gauges()), "text/plain; version=0.0.4");
        });
    });
}

}  // namespace hearth::server

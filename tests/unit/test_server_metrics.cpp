// Unit tests of the server's Prometheus rendering: llama-server counter names, histogram bucket
// cumulativity, and the gauges the scheduler supplies.
#include <gtest/gtest.h>

#include <algorithm>

#include "server/metrics.h"

using namespace hearth::server;

TEST(ServerMetrics, HistogramIsCumulative) {
    Histogram h({0.1, 1.0});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(0.5);
    h.observe(5);
    std::string out;
    h.render(out, "x_seconds", "help");
    EXPECT_NE(out.find("# TYPE x_seconds histogram"), std::string::npos);
    EXPECT_NE(out.find("x_seconds_bucket{le=\"0.10000000000000001\"} 1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("x_seconds_bucket{le=\"1\"} 3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("x_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos);
    EXPECT_NE(out.find("x_seconds_count 4\n"), std::string::npos);
    EXPECT_NE(out.find("x_seconds_sum 6.0"), std::string::npos);
}

TEST(ServerMetrics, RendersLlamaServerNamesAndHistograms) {
    Metrics m;
    m.on_prompt(10, 0.5);
    m.on_generated(20, 2.0);
    m.on_decode(2);
    m.on_decode(4, 6, 0.25, 0.5);
    m.on_ttft(0.2);
    m.on_inter_token(0.01);
    m.on_queue_wait(0.0);
    m.on_request_done(3);
    MetricsGauges g;
    g.requests_processing = 2;
    g.requests_deferred = 1;
    std::string out = m.render(g);
    for (const char* line : {"llamacpp:prompt_tokens_total 10\n", "llamacpp:tokens_predicted_total 20\n",
                             "llamacpp:n_decode_total 2\n", "llamacpp:n_busy_slots_per_decode 3\n",
                             "llamacpp:predicted_tokens_seconds 10\n", "llamacpp:prompt_tokens_seconds 20\n",
                             "llamacpp:requests_processing 2\n", "llamacpp:requests_deferred 1\n",
                             "hearth:time_to_first_token_seconds_count 1\n", "hearth:inter_token_latency_seconds_count 1\n",
                             "hearth:queue_wait_seconds_count 1\n", "hearth:request_duration_seconds_count 1\n",
                             "hearth:decode_tokens_total 6\n", "hearth:decode_seconds_total 0.25\n",
                             "hearth:scheduler_overhead_seconds_total 0.5\n"}) {
        EXPECT_NE(out.find(line), std::string::npos) << line;
    }
    // Every sample line is "name[{labels}] value".
    size_t pos = 0;
    while (pos < out.size()) {
        size_t nl = out.find('\n', pos);
        ASSERT_NE(nl, std::string::npos);
        std::string line = out.substr(pos, nl - pos);
        if (line[0] != '#') {
            EXPECT_EQ(std::count(line.begin(), line.end(), ' '), 1) << line;
        }
        pos = nl + 1;
    }
}

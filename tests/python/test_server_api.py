"""Integration tests of `hearth serve` through the real `openai` client and raw HTTP: chat (plain
and SSE), completions, /completion, models, health, metrics, tokenize round trip, templates, a
tool-call round trip, and 4xx answers for bad JSON, wrong types, out-of-range values, oversized
bodies and missing/wrong API keys. The tiny random-weight model makes text noise: the tests check
structure, not wording. Only 127.0.0.1 is contacted."""
import json
import os
import subprocess

import openai
import pytest
import requests

BIN = os.environ.get("HEARTH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/hearth"))
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))
MODEL = os.path.join(SHARED, "models", "tiny-qwen3-bpe-Q8_0.gguf")
KEY = "sk-test-key"


from server_process import start_server, stop_server  # noqa: E402


@pytest.fixture(scope="module")
def server():
    if not os.path.exists(BIN):
        pytest.skip("hearth binary not built")
    proc, base = start_server(["-m", MODEL, "-np", "2", "--api-key", KEY, "--metrics", "-a", "tiny"])
    yield base
    stop_server(proc)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0, timeout=60)


def auth():
    return {"Authorization": "Bearer " + KEY}


def post(base, path, body, headers=None, raw=None):
    h = dict(auth())
    h.update(headers or {})
    if raw is not None:
        return requests.post(base + path, data=raw, headers=h, timeout=60)
    return requests.post(base + path, json=body, headers=h, timeout=60)


def assert_error(r, status, param=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert err["type"]
    if param is not None:
        assert err["param"] == param
    return err


MSGS = [{"role": "user", "content": "Say hello."}]


def test_health_and_models_need_no_key(server):
    r = requests.get(server + "/health", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    models = requests.get(server + "/v1/models", timeout=10).json()
    assert models["object"] == "list"
    assert models["data"][0]["id"] == "tiny"


def test_openai_models(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["tiny"]


def test_chat_non_stream(server, client):
    r = client.chat.completions.create(model="tiny", messages=MSGS, max_tokens=8, temperature=0)
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert isinstance(r.choices[0].message.content, str)
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens >= 0
    raw = post(server, "/v1/chat/completions", {"messages": MSGS, "max_tokens": 4, "temperature": 0}).json()
    t = raw["timings"]
    for k in ("prompt_n", "prompt_ms", "prompt_per_second", "predicted_n", "predicted_ms", "predicted_per_second"):
        assert k in t
    # The same prompt again reuses the slot's cache.
    assert raw["usage"]["prompt_tokens_details"]["cached_tokens"] > 0


def test_chat_stream_matches_non_stream(client):
    kw = dict(model="tiny", messages=[{"role": "user", "content": "Count to five."}], max_tokens=12, temperature=0)
    full = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [full.choices[0].finish_reason]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    assert text == full.choices[0].message.content


def test_stream_ends_with_done(server):
    r = requests.post(server + "/v1/chat/completions", headers=auth(), stream=True, timeout=60,
                      json={"messages": MSGS, "max_tokens": 3, "stream": True})
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = [l for l in r.iter_lines(decode_unicode=True) if l]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    last = json.loads(events[-2][6:])
    assert last["choices"][0]["finish_reason"] in ("stop", "length")
    assert "predicted_per_second" in last["timings"]


def test_logprobs(client):
    r = client.chat.completions.create(model="tiny", messages=MSGS, max_tokens=3, temperature=0, logprobs=True,
                                       top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert 1 <= len(content) <= 3
    for tok in content:
        assert tok.logprob <= 0
        assert len(tok.top_logprobs) == 3
        lps = [t.logprob for t in tok.top_logprobs]
        assert lps == sorted(lps, reverse=True)
        assert abs(tok.logprob - lps[0]) < 1e-4  # greedy picked the best


def test_completions(client):
    r = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=6, temperature=0, logprobs=2)
    assert r.object == "text_completion"
    c = r.choices[0]
    assert c.finish_reason in ("stop", "length")
    assert len(c.logprobs.tokens) == len(c.logprobs.token_logprobs) == len(c.logprobs.top_logprobs)
    s = list(client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=6, temperature=0,
                                       stream=True))
    assert "".join(x.choices[0].text for x in s if x.choices) == c.text


def test_legacy_completion(server):
    r = post(server, "/completion", {"prompt": "Hello", "n_predict": 5, "temperature": 0}).json()
    assert isinstance(r["content"], str)
    assert r["stop"] is True and r["tokens_predicted"] <= 5
    assert "timings" in r


def test_tokenize_round_trip(server):
    text = "Hello world, this is hearth. Ünïcödé ✓ 123"
    toks = post(server, "/tokenize", {"content": text}).json()["tokens"]
    assert toks and all(isinstance(t, int) for t in toks)
    back = post(server, "/detokenize", {"tokens": toks}).json()["content"]
    assert back == text
    pieces = post(server, "/tokenize", {"content": "hi there", "with_pieces": True}).json()["tokens"]
    assert [p["id"] for p in pieces] == post(server, "/tokenize", {"content": "hi there"}).json()["tokens"]


def test_apply_template_and_props(server):
    p = post(server, "/apply-template", {"messages": MSGS}).json()["prompt"]
    assert "Say hello." in p and "<|im_start|>assistant" in p
    props = requests.get(server + "/props", headers=auth(), timeout=10).json()
    assert props["total_slots"] == 2
    slots = requests.get(server + "/slots", headers=auth(), timeout=10).json()
    assert len(slots) == 2


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


@pytest.fixture(scope="module")
def tool_server():
    """A server using Qwen2.5's tool-aware template (--chat-template-file), no API key."""
    template = os.path.join(SHARED, "templates", "Qwen-Qwen2.5-7B-Instruct.jinja")
    proc, base = start_server(["-m", MODEL, "--jinja", "--chat-template-file", template])
    yield base
    stop_server(proc)


def test_tool_call_round_trip(tool_server):
    server = tool_server
    client = openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0, timeout=60)
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    # tool_choice "required" constrains the output to {"name": <tool>, "arguments": {...}}, completed
    # within max_tokens, so even random weights produce a well-formed call (random arguments).
    first = client.chat.completions.create(model="tiny", messages=msgs, tools=TOOLS, tool_choice="required",
                                           max_tokens=60, temperature=0)
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)
    streamed = list(client.chat.completions.create(model="tiny", messages=msgs, tools=TOOLS, max_tokens=60,
                                                   tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                                   temperature=0.7, seed=3, stream=True))
    deltas = [c.choices[0].delta for c in streamed if c.choices and c.choices[0].delta.tool_calls]
    assert deltas and deltas[0].tool_calls[0].function.name == "get_weather"
    assert streamed[-1].choices[0].finish_reason == "tool_calls"
    # The client runs the tool and sends the call and its result back.
    msgs += [{"role": "assistant", "content": None, "tool_calls": [
                 {"id": call.id, "type": "function",
                  "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]},
             {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    prompt = post(server, "/apply-template", {"messages": msgs, "tools": TOOLS}).json()["prompt"]
    assert "<tools>" in prompt and "get_weather" in prompt  # the tool definitions
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>' in prompt
    assert "<tool_response>\nsunny, 21 C\n</tool_response>" in prompt
    second = client.chat.completions.create(model="tiny", messages=msgs, tools=TOOLS, max_tokens=8, temperature=0)
    assert second.choices[0].message.role == "assistant"
    stream = list(client.chat.completions.create(model="tiny", messages=msgs, tools=TOOLS, max_tokens=8,
                                                 temperature=0, stream=True))
    assert stream[-1].choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_response_format_json_object(server, client):
    for max_tokens, temperature in ((30, 0), (8, 1.0), (50, 0.8)):
        r = client.chat.completions.create(model="tiny", messages=MSGS, max_tokens=max_tokens, temperature=temperature,
                                           response_format={"type": "json_object"}, seed=1)
        assert r.choices[0].finish_reason == "stop"  # completed within the token budget
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="tiny", messages=MSGS, max_tokens=20, stream=True, response_format={"type": "json_object"}) if c.choices)
    assert isinstance(json.loads(text), dict)


def test_metrics(server, client):
    client.chat.completions.create(model="tiny", messages=MSGS, max_tokens=2)
    text = requests.get(server + "/metrics", headers=auth(), timeout=10).text
    for name in ("llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total", "llamacpp:requests_processing",
                 "hearth:time_to_first_token_seconds_bucket", "hearth:inter_token_latency_seconds_count",
                 "hearth:queue_wait_seconds_sum", "hearth:request_duration_seconds_count"):
        assert name in text, name


def test_auth(server, client):
    assert_error(requests.get(server + "/props", timeout=10), 401)
    assert_error(requests.get(server + "/props", headers={"Authorization": "Bearer wrong"}, timeout=10), 401)
    assert_error(requests.post(server + "/v1/chat/completions", json={"messages": MSGS}, timeout=10), 401)
    assert requests.get(server + "/props", headers={"X-Api-Key": KEY}, timeout=10).status_code == 200
    bad = openai.OpenAI(base_url=server + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="tiny", messages=MSGS, max_tokens=1)


@pytest.mark.parametrize("body,param", [
    ({"messages": MSGS, "max_tokens": "ten"}, "max_tokens"),
    ({"messages": MSGS, "temperature": "hot"}, "temperature"),
    ({"messages": MSGS, "stream": "yes"}, "stream"),
    ({"messages": "hello"}, "messages"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": MSGS, "temperature": -0.5}, "temperature"),
    ({"messages": MSGS, "top_p": 1.5}, "top_p"),
    ({"messages": MSGS, "n": 2}, "n"),
    ({"messages": MSGS, "logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"messages": MSGS, "stop": ["s"] * 17}, "stop"),
    ({"messages": MSGS, "stop": "x" * 300}, "stop"),
    ({"messages": MSGS, "logit_bias": {"999999": 1}}, "logit_bias"),
    ({"prompt": "x"}, "messages"),
    ({"messages": MSGS, "max_tokens": -5}, "max_tokens"),
    ({"messages": MSGS, "max_tokens": 1.5}, "max_tokens"),
    ({"messages": MSGS, "max_tokens": 10 ** 12}, "max_tokens"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"messages": []}, "messages"),
    ({"messages": MSGS, "top_k": -3}, "top_k"),
    ({"messages": MSGS, "seed": "x"}, "seed"),
    ({"messages": MSGS, "min_p": 2}, "min_p"),
    ({"messages": MSGS, "stream": True, "n": 3}, "n"),
])
def test_bad_requests_are_400(server, body, param):
    assert_error(post(server, "/v1/chat/completions", body), 400, param)


def test_bad_bodies(server):
    assert_error(post(server, "/v1/chat/completions", None, raw=b"{not json"), 400)
    assert_error(post(server, "/v1/chat/completions", None, raw=b'{"messages": [{"role":"user","content":"\xff\xfe"}]}'),
                 400)
    assert_error(post(server, "/v1/chat/completions", None, raw=b"[" * 100000), 400)
    assert_error(post(server, "/v1/chat/completions", None, raw=b'{"messages": '), 400)  # truncated
    assert_error(post(server, "/v1/chat/completions", [1, 2]), 400)  # not an object
    big = json.dumps({"messages": [{"role": "user", "content": "a" * (3 << 20)}]})
    r = post(server, "/v1/chat/completions", None, raw=big)
    assert r.status_code == 413
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0).chat.completions.create(
            model="tiny", messages=MSGS, temperature=5)


def test_prompt_longer_than_context():
    proc, base = start_server(["-m", MODEL, "-c", "64"])
    try:
        r = requests.post(base + "/v1/completions", json={"prompt": "word " * 200, "max_tokens": 1}, timeout=30)
        err = assert_error(r, 400, "prompt")
        assert "n_ctx" in err["message"] and "64" in err["message"]
        assert "200" in err["message"] or "201" in err["message"]
        ok = requests.post(base + "/v1/completions", json={"prompt": "word", "max_tokens": 200}, timeout=60).json()
        assert ok["choices"][0]["finish_reason"] in ("length", "stop")  # generation stops at the context end
    finally:
        stop_server(proc)


def test_unknown_route_and_bad_args(server):
    assert_error(requests.get(server + "/nope", headers=auth(), timeout=10), 404)
    r = subprocess.run([BIN, "serve", "--port", "abc", "-m", MODEL], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    r = subprocess.run([BIN, "serve", "--port", "0", "-m", "/nonexistent.gguf"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2

"""Load and lifecycle tests of `hearth serve`: 16 concurrent temperature-0 streams equal the same
requests run alone, bitwise (continuous batching changes nothing), 100 clients that leave after their first
chunk leave every slot idle within 500 ms while the outputs of clients that stay are unchanged, a
full queue answers 429 with Retry-After (to the openai client too) while queued streams go on, a
slow reader gets its whole stream, SIGTERM drains an in-flight stream and exits 0, and the default
model (Gemma 3 270M) serves when present. Only 127.0.0.1 is contacted; every loop is bounded."""
import concurrent.futures as cf
import json
import os
import signal
import socket
import threading
import time

import openai
import pytest
import requests

BIN = os.environ.get("HEARTH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/hearth"))
SHARED = os.environ.get("HEARTH_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))
ROOT = os.environ.get("HEARTH_ROOT", os.path.join(os.path.dirname(__file__), "../.."))
MODEL = os.path.join(SHARED, "models", "tiny-qwen3-bpe-Q8_0.gguf")

pytestmark = pytest.mark.skipif(not os.path.exists(BIN), reason="hearth binary not built")


import server_process  # noqa: E402
from server_process import stop_server  # noqa: E402,F401


def start_server(extra, timeout=120):
    return server_process.start_server(extra, timeout)


def stream_text(base, messages, max_tokens, logprobs=None, cache_prompt=True):
    """Streams a temperature-0 chat; returns (text, finish_reason); appends logprob entries to `logprobs`.
    cache_prompt=False: the whole prompt is evaluated again (no reuse of a slot's cached prefix)."""
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0, timeout=120)
    out = []
    finish = None
    extra = {"logprobs": True, "top_logprobs": 2} if logprobs is not None else {}
    if not cache_prompt:
        extra["extra_body"] = {"cache_prompt": False}
    for chunk in client.chat.completions.create(model="m", messages=messages, max_tokens=max_tokens,
                                                temperature=0, stream=True, **extra):
        if chunk.choices:
            out.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
            if logprobs is not None and chunk.choices[0].logprobs and chunk.choices[0].logprobs.content:
                logprobs.extend(chunk.choices[0].logprobs.content)
    return "".join(out), finish


def slots_idle(base):
    slots = requests.get(base + "/slots", timeout=5).json()
    return all(not s["is_processing"] for s in slots)


def assert_same_output(solo, solo_lp, other, other_lp):
    """A temperature-0 stream run beside others equals the same request run alone: same text, same
    tokens, bitwise the same logprobs (the CPU kernels are batch-invariant: a row's result does not
    depend on the other rows of its batch)."""
    assert other == solo
    assert [t.token for t in other_lp] == [t.token for t in solo_lp]
    assert [t.logprob for t in other_lp] == [t.logprob for t in solo_lp]
    assert [[(a.token, a.logprob) for a in t.top_logprobs] for t in other_lp] == \
        [[(a.token, a.logprob) for a in t.top_logprobs] for t in solo_lp]


def test_concurrent_streams_equal_solo_runs():
    proc, base = start_server(["-m", MODEL, "-np", "16"])
    try:
        prompts = [[{"role": "user", "content": f"Request number {i}: tell me about topic {i * 7}."}]
                   for i in range(16)]
        # cache_prompt off: every run evaluates its whole prompt, alone or in one batch with the others'.
        solo_lp = [[] for _ in prompts]
        solo = [stream_text(base, p, 16, solo_lp[i], cache_prompt=False) for i, p in enumerate(prompts)]
        together_lp = [[] for _ in prompts]
        with cf.ThreadPoolExecutor(16) as ex:
            together = list(ex.map(lambda i: stream_text(base, prompts[i], 16, together_lp[i], cache_prompt=False),
                                   range(16)))
        assert all(finish in ("stop", "length") for _, finish in together)  # every stream completed
        for i in range(16):
            assert_same_output(solo[i], solo_lp[i], together[i], together_lp[i])
        metrics_busy = requests.get(base + "/slots", timeout=5).json()
        assert len(metrics_busy) == 16
    finally:
        stop_server(proc)


def read_first_chunk_and_leave(base, results, i):
    s = socket.create_connection((base.split("//")[1].split(":")[0], int(base.rsplit(":", 1)[1])), timeout=30)
    body = json.dumps({"messages": [{"role": "user", "content": f"client {i}"}], "max_tokens": 3000,
                       "stream": True}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    data = b""
    while b"data: " not in data:
        part = s.recv(4096)
        if not part:
            break
        data += part
    results[i] = data
    s.close()


def test_disconnected_clients_free_every_slot_within_500ms():
    proc, base = start_server(["-m", MODEL, "-np", "4", "--max-queue", "128", "--metrics"])
    try:
        # Three clients read their whole stream while 100 others leave after their first chunk;
        # theirs must equal the same requests run alone.
        watch = [[{"role": "user", "content": f"watcher {i} stays to the end"}] for i in range(3)]
        solo_lp = [[] for _ in watch]
        solo = [stream_text(base, m, 24, solo_lp[i]) for i, m in enumerate(watch)]
        watch_lp = [[] for _ in watch]
        with cf.ThreadPoolExecutor(3) as ex:
            results = [None] * 100
            threads = [threading.Thread(target=read_first_chunk_and_leave, args=(base, results, i))
                       for i in range(100)]
            for k, t in enumerate(threads):
                t.start()
                if k == 30:  # the watchers queue up among the leaving clients
                    watchers = [ex.submit(stream_text, base, m, 24, watch_lp[i]) for i, m in enumerate(watch)]
            for t in threads:
                t.join(timeout=60)
            watched = [w.result(timeout=120) for w in watchers]
            left = time.time()  # every leaving client is gone and every watcher done
        assert all(r and b"200 OK" in r and b"data: " in r for r in results)
        for i in range(3):
            assert watched[i][1] in ("stop", "length")
            assert_same_output(solo[i], solo_lp[i], watched[i], watch_lp[i])
        idle_after = None
        while time.time() - left < 5:
            if slots_idle(base):
                idle_after = time.time() - left
                break
            time.sleep(0.01)
        assert idle_after is not None and idle_after <= 0.5, idle_after
        m = requests.get(base + "/metrics", timeout=5).text
        assert "llamacpp:requests_processing 0\n" in m and "llamacpp:requests_deferred 0\n" in m
        # Still serving normally afterwards.
        text, finish = stream_text(base, [{"role": "user", "content": "after"}], 4)
        assert finish in ("stop", "length")
    finally:
        stop_server(proc)


def test_non_streaming_client_that_leaves_frees_its_slot():
    proc, base = start_server(["-m", MODEL, "-np", "1"])
    try:
        host, port = base.split("//")[1].split(":")
        s = socket.create_connection((host, int(port)), timeout=30)
        body = json.dumps({"messages": [{"role": "user", "content": "x"}], "max_tokens": 3000}).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        deadline = time.time() + 10
        while slots_idle(base) and time.time() < deadline:
            time.sleep(0.005)
        assert not slots_idle(base)
        s.close()
        left = time.time()
        while not slots_idle(base) and time.time() - left < 5:
            time.sleep(0.01)
        assert time.time() - left <= 0.5
    finally:
        stop_server(proc)


def test_full_queue_answers_429():
    proc, base = start_server(["-m", MODEL, "-np", "1", "--max-queue", "1", "--metrics"])
    try:
        long_body = {"messages": [{"role": "user", "content": "long"}], "max_tokens": 3000, "stream": True}
        # Keep each line iterator referenced: with urllib3 2.x, a discarded `iter_lines()` generator
        # closes the response's socket when it is collected, i.e. the client leaves and the server
        # rightly cancels its stream (which emptied the queue in an earlier version of this test).
        a = requests.post(base + "/v1/chat/completions", json=long_body, stream=True, timeout=60)
        a_lines = a.iter_lines()
        next(a_lines)  # A runs (or is about to)
        deadline = time.time() + 10
        while slots_idle(base) and time.time() < deadline:
            time.sleep(0.01)
        b = requests.post(base + "/v1/chat/completions", json=long_body, stream=True, timeout=60)
        b_lines = b.iter_lines()
        next(b_lines)  # B waits in the queue
        c = requests.post(base + "/v1/chat/completions", json=long_body, timeout=60)
        assert c.status_code == 429
        assert c.headers.get("Retry-After") == "1"
        assert c.json()["error"]["type"] == "rate_limit_error"
        oc = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0, timeout=60)
        with pytest.raises(openai.RateLimitError):
            oc.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=1)
        # A and B were never disturbed by the rejections: both are still running or queued.
        assert not slots_idle(base)
        assert requests.get(base + "/slots", timeout=5).json()[0]["n_decoded"] < 3000
        a.close()  # A leaves: B takes the slot, and the queue has room again
        deadline = time.time() + 10
        while "llamacpp:requests_deferred 0\n" not in requests.get(base + "/metrics", timeout=5).text:
            assert time.time() < deadline
            time.sleep(0.02)
        b.close()  # B leaves too: the next request is served at once, on the rejected client's connection
        r = oc.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        assert r.choices[0].finish_reason in ("stop", "length")
        del a_lines, b_lines
    finally:
        stop_server(proc)


def test_slow_reader_receives_the_whole_stream():
    """A client that stops reading for a while (the server keeps generating and writing into the
    socket meanwhile) still receives every token, the finish chunk and [DONE]: nothing is dropped."""
    proc, base = start_server(["-m", MODEL, "-np", "2"])
    try:
        body = {"messages": [{"role": "user", "content": "slow reader"}], "max_tokens": 300, "temperature": 0,
                "cache_prompt": False}  # both runs evaluate the same batches: identical numerics
        whole = requests.post(base + "/v1/chat/completions", json=body, timeout=120).json()
        r = requests.post(base + "/v1/chat/completions", stream=True, timeout=120,
                          json=dict(body, stream=True, stream_options={"include_usage": True}))
        lines = r.iter_lines()  # bytes: SSE is UTF-8 (requests would guess Latin-1 for text/event-stream)
        assert next(lines).startswith(b"data: ")
        time.sleep(3)  # the server generates meanwhile
        rest = [line.decode("utf-8") for line in lines if line]
        assert rest[-1] == "data: [DONE]"
        chunks = [json.loads(line[6:]) for line in rest[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        assert finish == [whole["choices"][0]["finish_reason"]]
        assert chunks[-1]["usage"]["completion_tokens"] == whole["usage"]["completion_tokens"]
        assert text == whole["choices"][0]["message"]["content"]
    finally:
        stop_server(proc)


def test_sigterm_drains_in_flight_stream():
    proc, base = start_server(["-m", MODEL, "-np", "2"])
    r = requests.post(base + "/v1/chat/completions", stream=True, timeout=60,
                      json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 200, "stream": True})
    lines = r.iter_lines(decode_unicode=True)
    first = next(l for l in lines if l)
    assert first.startswith("data: ")
    proc.send_signal(signal.SIGTERM)
    rest = [l for l in lines if l]
    assert rest[-1] == "data: [DONE]"
    finish = json.loads(rest[-2][6:])["choices"][0]["finish_reason"]
    assert finish in ("stop", "length")
    assert proc.wait(timeout=40) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/health", timeout=2)


def default_model():
    for p in (os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf"), "/tmp/gm/g.gguf"):
        if os.path.exists(p):
            return p
    return None


@pytest.mark.skipif(default_model() is None, reason="default model not fetched (make model)")
def test_default_model_chat():
    proc, base = start_server(["-m", default_model(), "-np", "2", "-c", "4096"])
    try:
        client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0, timeout=300)
        r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "What is 2+2?"}],
                                           max_tokens=8, temperature=0)
        assert r.choices[0].finish_reason in ("stop", "length")
        assert r.usage.prompt_tokens > 5
        prompt = requests.post(base + "/apply-template", timeout=30,
                               json={"messages": [{"role": "user", "content": "hi"}]}).json()["prompt"]
        assert "<start_of_turn>user" in prompt and prompt.endswith("<start_of_turn>model\n")
        text, finish = stream_text(base, [{"role": "user", "content": "What is 2+2?"}], 8)
        assert text == r.choices[0].message.content
    finally:
        stop_server(proc)

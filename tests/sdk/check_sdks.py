#!/usr/bin/env python3
"""Drive the official `openai` and `anthropic` Python SDKs against a server and
report what they parsed, as JSON on stdout.

Used by the test suite against the mock LLM upstream (and later the proxy): the
SDKs must parse every JSON and streaming reply without error. The caller asserts
on the texts. Exit status 0 means every call parsed (or failed exactly as
expected); any unexpected exception exits 1 with the traceback on stderr.
"""

import argparse
import json
import sys
import traceback


def run_openai(base_url, key, model, prompt):
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
    out = {}
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}]
    )
    out["openai_json"] = completion.choices[0].message.content
    out["openai_json_finish"] = completion.choices[0].finish_reason

    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, chunks = [], None, 0
    for chunk in stream:
        chunks += 1
        if chunk.usage is not None:
            usage = chunk.usage.total_tokens
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
    out["openai_stream"] = "".join(pieces)
    out["openai_stream_chunks"] = chunks
    out["openai_stream_usage"] = usage

    # The Responses API (what Codex CLI speaks): JSON, and the streamed event sequence.
    response = client.responses.create(model=model, input=prompt)
    out["responses_json"] = response.output_text
    out["responses_json_status"] = response.status
    pieces, types, final = [], [], None
    with client.responses.stream(model=model, input=[{"role": "user", "content": prompt}]) as stream:
        for event in stream:
            types.append(event.type)
            if event.type == "response.output_text.delta":
                pieces.append(event.delta)
        final = stream.get_final_response()
    out["responses_stream"] = "".join(pieces)
    out["responses_stream_final"] = final.output_text
    out["responses_stream_events"] = types
    return client, out


def run_openai_extras(client, out, model):
    import openai

    out["openai_models"] = [m.id for m in client.models.list()]
    try:
        client.responses.create(model="mock-error-429", input="x")
        out["responses_429"] = "no error"
    except openai.RateLimitError as e:
        out["responses_429"] = f"RateLimitError {e.status_code}"
    # The SDK asks for base64 by default and decodes it itself.
    emb = client.embeddings.create(model=model, input=["alpha", "beta"])
    out["openai_embedding_dims"] = [len(d.embedding) for d in emb.data]
    try:
        client.chat.completions.create(model="mock-error-429", messages=[{"role": "user", "content": "x"}])
        out["openai_429"] = "no error"
    except openai.RateLimitError as e:
        out["openai_429"] = f"RateLimitError {e.status_code} retry-after={e.response.headers.get('retry-after')}"
    bad = openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0)
    try:
        bad.models.list()
        out["openai_401"] = "no error"
    except openai.AuthenticationError as e:
        out["openai_401"] = f"AuthenticationError {e.status_code}"


def run_anthropic(base_url, key, model, prompt, extras):
    import anthropic

    client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0, timeout=30)
    out = {}
    message = client.messages.create(
        model=model, max_tokens=256, messages=[{"role": "user", "content": prompt}]
    )
    out["anthropic_json"] = "".join(b.text for b in message.content if b.type == "text")
    out["anthropic_json_stop"] = message.stop_reason

    pieces, events = [], []
    with client.messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        for event in stream:
            events.append(event.type)
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                pieces.append(event.delta.text)
        final = stream.get_final_message()
    out["anthropic_stream"] = "".join(pieces)
    out["anthropic_stream_final"] = "".join(b.text for b in final.content if b.type == "text")
    out["anthropic_stream_events"] = sorted(set(events))

    if extras:
        count = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": prompt}])
        out["anthropic_count_tokens"] = count.input_tokens
        try:
            client.messages.create(
                model="mock-error-529", max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
            out["anthropic_529"] = "no error"
        except anthropic.APIStatusError as e:
            out["anthropic_529"] = f"{type(e).__name__} {e.status_code}"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--openai-base-url", required=True, help="e.g. http://127.0.0.1:9200/v1")
    parser.add_argument("--anthropic-base-url", required=True, help="e.g. http://127.0.0.1:9200")
    parser.add_argument("--openai-key", required=True)
    parser.add_argument("--anthropic-key", required=True)
    parser.add_argument("--openai-model", default="mock-gpt")
    parser.add_argument("--anthropic-model", default="mock-claude")
    parser.add_argument("--prompt", default="Say hello to the conformance kit.")
    parser.add_argument("--extras", action="store_true", help="also models, embeddings, count_tokens, errors")
    parser.add_argument("--legacy-completions", action="store_true", help="also the legacy /v1/completions")
    args = parser.parse_args()

    import anthropic
    import openai

    result = {"openai_version": openai.__version__, "anthropic_version": anthropic.__version__}
    try:
        client, out = run_openai(args.openai_base_url, args.openai_key, args.openai_model, args.prompt)
        result.update(out)
        if args.extras:
            run_openai_extras(client, result, args.openai_model)
        if args.legacy_completions:
            legacy = client.completions.create(model=args.openai_model, prompt=args.prompt)
            result["completions_json"] = legacy.choices[0].text
            streamed = client.completions.create(model=args.openai_model, prompt=args.prompt, stream=True)
            result["completions_stream"] = "".join(c.choices[0].text for c in streamed if c.choices)
        result.update(
            run_anthropic(args.anthropic_base_url, args.anthropic_key, args.anthropic_model, args.prompt, args.extras)
        )
    except Exception:  # report everything the SDKs raised, with the partial result
        traceback.print_exc()
        print(json.dumps(result))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

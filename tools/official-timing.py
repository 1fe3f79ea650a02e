"""Times the official TTT layers the way `ttt bench speed` times ours, and writes the JSON that
`ttt bench speed --official FILE` reads (docs/benchmarks.md, "The official code on the same machine").

Not built or run by CI. It imports the official `ttt.py` of test-time-training/ttt-lm-pytorch
(the figures in docs/benchmarks.md used commit cd831db), which you fetch yourself:

    python3 -m venv venv && venv/bin/pip install torch transformers
    venv/bin/python tools/official-timing.py --ttt path/to/ttt.py --out official.json
    ./bin/ttt bench speed --official official.json

Run it just before `ttt bench speed` on the same machine. OpenMP's wait policy changes the official
code's speed several-fold on small VMs: run it with and without OMP_WAIT_POLICY=PASSIVE and compare
against its fastest setting.
"""
import argparse
import importlib.util
import json
import statistics
import time

import torch


def median_ms(fn, warm_up, repeats):
    for _ in range(warm_up):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ttt", required=True, help="path to the official ttt.py")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lengths", default="512,1024,2048,4096,8192")
    parser.add_argument("--source", default=None, help="the 'source' line of the JSON")
    args = parser.parse_args()

    spec = importlib.util.spec_from_file_location("ttt", args.ttt)
    ttt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ttt)
    # transformers 5 expects a mapping for tied weights; the only adaptation, no computation changes
    ttt.TTTForCausalLM._tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    def config(kind):
        return ttt.TTTConfig(**ttt.TTT_STANDARD_CONFIGS["125m"], ttt_layer_type=kind)

    source = args.source or "ttt.py, torch %s, %d threads" % (torch.__version__, args.threads)
    out = {"source": source, "forward": {}, "forwardBackward": {}, "decode": {}}
    for kind, layer_class in (("linear", ttt.TTTLinear), ("mlp", ttt.TTTMLP)):
        # layer forward, eval mode, no gradient: median of 5 (3 from T = 4096) after one warm-up
        layer = layer_class(config(kind), layer_idx=0).eval()
        out["forward"][kind] = {}
        with torch.no_grad():
            for length in (int(t) for t in args.lengths.split(",")):
                x = torch.randn(1, length, 768)
                positions = torch.arange(length).unsqueeze(0)
                ms = median_ms(
                    lambda: layer(x, position_ids=positions), 1, 3 if length >= 4096 else 5
                )
                out["forward"][kind][str(length)] = round(ms, 1)
                print(kind, "forward", length, "%.1f ms" % ms, flush=True)

        # train mode, forward + mean().backward() at T = 2048: median of 3 after one warm-up
        layer.train()
        x = torch.randn(1, 2048, 768)
        positions = torch.arange(2048).unsqueeze(0)

        def forward_backward():
            layer.zero_grad(set_to_none=True)
            layer(x, position_ids=positions).mean().backward()

        ms = median_ms(forward_backward, 1, 3)
        out["forwardBackward"][kind] = round(ms, 1)
        print(kind, "forward+backward 2048", "%.1f ms" % ms, flush=True)

        # the 125m model with its cache after a 1024-token prefill: median of 32 one-token steps
        # after 16 untimed ones (the cache applies its update every 16th token)
        model = ttt.TTTForCausalLM(config(kind)).eval()
        with torch.no_grad():
            cache = ttt.TTTCache(model.model, 1)
            model(input_ids=torch.randint(0, 32000, (1, 1024)), cache_params=cache, use_cache=True)
            token = torch.randint(0, 32000, (1, 1))
            ms = median_ms(
                lambda: model(input_ids=token, cache_params=cache, use_cache=True), 16, 32
            )
        out["decode"][kind] = round(ms, 1)
        print(kind, "decode", "%.1f ms" % ms, flush=True)

    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

"""PyTorch reference timings for kiln-bench's standard workloads on the same GPU.

Run on the GPU machine:  python3 bench/pytorch_reference.py [--size large|small] [--only A,B]
Prints one JSON line per workload in kiln-bench's format (peer "pytorch"), timed with CUDA
events: 3 warm-up runs, then the median and min of 20 runs. TF32 is off.
"""
import json
import sys

import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
large = "--size" not in sys.argv or sys.argv[sys.argv.index("--size") + 1] == "large"
dev = "cuda"
only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None


def timeit(fn):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(20):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        out = fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2], times[0], out


def report(name, shape, fn, metric):
    if only is not None and name not in only:
        return
    med, mn, out = timeit(fn)
    value, unit = metric(med)
    print(json.dumps({"peer": "pytorch", "workload": name, "shape": shape, "median_ms": med,
                      "min_ms": mn, "metric": value, "unit": unit,
                      "checksum": float(out.double().sum())}), flush=True)


def gbs(nbytes):
    return lambda ms: (nbytes / (ms * 1e-3) / 1e9, "GB/s")


def tflops(f):
    return lambda ms: (f / (ms * 1e-3) / 1e12, "TFLOP/s")


def rand(*s):
    return torch.rand(*s, device=dev) * 2 - 1


n = 1 << 28 if large else 1 << 20
rows, cols = (8192, 4096) if large else (256, 1024)
x = rand(n)
report("copy", str(n), lambda: x.clone(), gbs(8 * n))
report("gelu_chain", str(n), lambda: torch.tanh(torch.exp(F.gelu(x * 1.5 + 0.5))), gbs(8 * n))
gelu_c = torch.compile(lambda t: torch.tanh(torch.exp(F.gelu(t * 1.5 + 0.5))))
report("gelu_chain_compiled", str(n), lambda: gelu_c(x), gbs(8 * n))
del x
m = rand(rows, cols)
g, b = rand(cols), rand(cols)
report("softmax", f"{rows}x{cols}", lambda: torch.softmax(m, -1), gbs(8 * rows * cols))
report("layernorm", f"{rows}x{cols}", lambda: F.layer_norm(m, (cols,), g, b, 1e-5), gbs(8 * rows * cols))
report("row_sum", f"{rows}x{cols}", lambda: m.sum(-1), gbs(4 * rows * cols))
k = 4096 if large else 512
a1, b1 = rand(k, k), rand(k, k)
report("matmul", f"{k}x{k}x{k}", lambda: a1 @ b1, tflops(2 * k ** 3))
h1, h2 = a1.half(), b1.half()
report("matmul_f16", f"{k}x{k}x{k}", lambda: h1 @ h2, tflops(2 * k ** 3))
del h1, h2
bt, k2 = (16, 2048) if large else (2, 256)
a2, b2, bias = rand(bt, k2, k2), rand(bt, k2, k2), rand(k2) * 0.1
report("matmul_bias_gelu", f"{bt}x{k2}x{k2}x{k2}", lambda: F.gelu(a2 @ b2 + bias), tflops(2 * bt * k2 ** 3))
s = rand(64)


def chain():
    y = s
    for i in range(1000):
        y = y * 0.999 if i % 2 == 0 else y + 0.001
    return y


report("launch_overhead", "64 x 1000 ops", chain, lambda ms: (ms * 1e3 / 1000, "us per op"))
bsz, seq = (8, 512) if large else (1, 64)
layer = torch.nn.TransformerEncoderLayer(768, 12, 3072, dropout=0.0, activation="gelu",
                                         batch_first=True).to(dev).eval()
xt = rand(bsz, seq, 768)
with torch.no_grad():
    report("transformer_layer", f"b{bsz} s{seq} d768 h12 ff3072", lambda: layer(xt), lambda ms: (ms, "ms"))
layer_h = layer.half()
xh = xt.half()
with torch.no_grad():
    report("transformer_layer_f16", f"b{bsz} s{seq} d768 h12 ff3072", lambda: layer_h(xh),
           lambda ms: (ms, "ms"))
del layer, layer_h
ab, ah, asq, ad = (8, 12, 2048, 64) if large else (1, 2, 256, 64)
for dt, suffix in ((torch.float32, ""), (torch.float16, "_f16")):
    q, k_, v = (rand(ab, ah, asq, ad).to(dt) for _ in range(3))
    for causal in (False, True):
        name = ("attention_causal" if causal else "attention") + suffix
        flops = 4 * ab * ah * asq * asq * ad / (2 if causal else 1)
        report(name, f"b{ab} h{ah} s{asq} d{ad}",
               lambda: F.scaled_dot_product_attention(q, k_, v, is_causal=causal), tflops(flops))
db, dh, dctx, dd = (8, 12, 4096, 64) if large else (1, 4, 1024, 64)
q, k_, v = rand(db, dh, 1, dd), rand(db, dh, dctx, dd), rand(db, dh, dctx, dd)
report("attention_decode", f"b{db} h{dh} 1x{dctx} d{dd}",
       lambda: F.scaled_dot_product_attention(q, k_, v), gbs(2 * db * dh * dctx * dd * 4))
gk, gg, gctx, gd = (8, 4, 512, 128) if large else (2, 2, 64, 64)
gq, gkk, gv = rand(gk, gg, 1, gd), rand(gk, 1, gctx, gd), rand(gk, 1, gctx, gd)
report("attention_decode_gqa", f"kv{gk} g{gg} 1x{gctx} d{gd}",
       lambda: F.scaled_dot_product_attention(gq, gkk.expand(gk, gg, gctx, gd),
                                              gv.expand(gk, gg, gctx, gd)),
       gbs(2 * gk * gctx * gd * 4))
# The ops the Burn backend lowers to (bench/src/workloads/burn_ops.rs).
cn, cc, chw = (8, 64, 56) if large else (1, 16, 28)
cx, cw = rand(cn, cc, chw, chw), rand(cc, cc, 3, 3) * 0.1
report("conv2d", f"b{cn} c{cc} {chw}x{chw} k3", lambda: F.conv2d(cx, cw, padding=1),
       tflops(2 * cn * cc * chw * chw * cc * 9))
pn, pc, phw = (8, 64, 112) if large else (1, 16, 56)
px = rand(pn, pc, phw, phw)
report("max_pool", f"b{pn} c{pc} {phw}x{phw} k3 s2", lambda: F.max_pool2d(px, 3, 2, 1),
       gbs(4 * (pn * pc * phw * phw + pn * pc * (phw // 2) ** 2)))
sr, sc = (4096, 4096) if large else (256, 1024)
sx = rand(sr, sc)
report("cumsum", f"{sr}x{sc}", lambda: torch.cumsum(sx, -1), gbs(8 * sr * sc))
tr, tn, tk = (64, 1024, 8) if large else (8, 256, 8)
tx = rand(tr, tn)
report("topk", f"{tr}x{tn} k{tk}", lambda: torch.topk(tx, tk, -1).values, lambda ms: (ms, "ms"))
xr, xc = (4096, 32000) if large else (256, 1000)
xx, xv = rand(xr, xc), rand(xr, 1)
xi = (torch.arange(xr, device=dev) * 7919 % xc).unsqueeze(1)
report("scatter_add", f"{xr}x{xc}", lambda: xx.scatter_add(1, xi, xv), gbs(8 * xr * xc))

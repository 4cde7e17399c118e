// The demo page: loads kiln's wasm, a model (built in, or a GGUF file the user picks), and
// generates on the page's GPU. Each generation leaves its outcome as JSON in #result
// (data-state "running", then "done" or "error"): what e2e.py reads. With ?auto=1 the page
// runs the built-in model greedily on its own (?runs=N times: the first pays for the
// browser's shader compiles).
import init, { Demo } from "./pkg/kiln_web.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let demo = null;

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function progress(done, total) {
  $("progress").max = total;
  $("progress").value = done;
  $("loaded").textContent = `${done}/${total} tensors`;
}

async function load(make, what) {
  status(`loading ${what}`);
  $("run").disabled = true;
  const t0 = performance.now();
  demo = await make();
  $("device").textContent = demo.device();
  $("model").textContent = demo.describe();
  $("plan").textContent = demo.plan(Number($("max").value) + 16);
  $("run").disabled = false;
  status(`loaded ${what} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
}

async function generate() {
  $("run").disabled = true;
  $("result").dataset.state = "running";
  $("text").textContent = "";
  status("generating");
  const prompt = $("prompt").value;
  const json = await demo.generate(
    prompt,
    Number($("max").value),
    Number($("temp").value),
    Number($("topk").value),
    Number($("topp").value),
    Number($("seed").value),
    (_id, text) => { $("text").textContent = prompt + text; },
  );
  const out = JSON.parse(json);
  $("timings").textContent =
    `load ${out.load_s.toFixed(2)} s · compile ${out.compile_s.toFixed(2)} s · ` +
    `prefill ${out.prefill_rate.toFixed(1)} tokens/s · decode ${out.decode_rate.toFixed(1)} tokens/s · ` +
    `${out.decode_kernels} kernels per decode step`;
  await showProfile(out.prompt_tokens.length + out.tokens.length);
  $("run").disabled = false;
  status("done");
  $("result").textContent = json;
  $("result").dataset.state = "done";
  return json;
}

// The decode step's kernels by GPU time, from timestamps between dispatches.
async function showProfile(context) {
  const times = JSON.parse(await demo.profile(context));
  if (times === null) {
    $("profile").textContent = "this adapter cannot write timestamps between dispatches";
    return;
  }
  const total = times.reduce((s, [, ms]) => s + ms, 0);
  const top = [...times].sort((a, b) => b[1] - a[1]).slice(0, 12);
  $("profile").textContent =
    `${times.length} kernels, ${total.toFixed(2)} ms in all; the slowest:\n` +
    top.map(([name, ms]) => `${ms.toFixed(3).padStart(9)} ms  ${name}`).join("\n");
}

function fail(e) {
  status(`error: ${e.message ?? e}`, true);
  $("result").textContent = JSON.stringify({ error: String(e.message ?? e) });
  $("result").dataset.state = "error";
}

$("builtin").onclick = () =>
  load(() => Demo.builtin(Number($("seed").value), progress), "the built-in model").catch(fail);
$("file").onchange = async () => {
  const f = $("file").files[0];
  if (!f) return;
  const bytes = new Uint8Array(await f.arrayBuffer());
  await load(() => Demo.fromGguf(bytes, progress), f.name).catch(fail);
};
$("run").onclick = () => generate().catch(fail);

try {
  await init();
  if (!navigator.gpu) status("this browser has no WebGPU: kiln runs on its CPU interpreter", true);
  else status("ready: load a model");
  if (params.get("auto") === "1") {
    $("max").value = params.get("max") ?? "8";
    await load(() => Demo.builtin(Number(params.get("seed") ?? 0), progress), "the built-in model");
    for (let i = 0; i < Number(params.get("runs") ?? 1); i++) await generate();
    document.body.dataset.auto = "done";
  }
} catch (e) {
  fail(e);
}

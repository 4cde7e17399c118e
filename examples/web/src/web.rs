//! The page's bindings: [`Demo`](crate::Demo) as a JavaScript class. Every wait is a promise;
//! nothing blocks the page's thread.

use crate::{Demo, Request};
use kiln::llm::Sampling;
use kiln::Device;
use wasm_bindgen::prelude::*;

/// A model on the page's device.
#[wasm_bindgen(js_name = Demo)]
pub struct WebDemo {
    demo: std::rc::Rc<Demo>,
}

/// A kiln error as a JavaScript error.
fn js(e: kiln::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// Calls `progress(done, total)` if the page gave one.
fn reporter(progress: Option<js_sys::Function>) -> impl FnMut(usize, usize) {
    move |done, total| {
        if let Some(f) = &progress {
            if let Err(e) = f.call2(&JsValue::NULL, &done.into(), &total.into()) {
                log_js("the progress callback failed", &e);
            }
        }
    }
}

/// Writes a callback's exception to the console (the run goes on).
fn log_js(what: &str, e: &JsValue) {
    web_log(&format!("kiln demo: {what}: {e:?}"));
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn web_log(s: &str);
}

#[wasm_bindgen(js_class = Demo)]
impl WebDemo {
    /// The built-in random model of `seed`, on the page's GPU.
    pub async fn builtin(
        seed: u32,
        progress: Option<js_sys::Function>,
    ) -> Result<WebDemo, JsError> {
        let device = Device::default_device_async().await.map_err(js)?;
        let demo = Demo::builtin(&device, u64::from(seed), &mut reporter(progress)).map_err(js)?;
        Ok(WebDemo {
            demo: std::rc::Rc::new(demo),
        })
    }

    /// The model in a GGUF file's bytes (a file the user picked), on the page's GPU.
    #[wasm_bindgen(js_name = fromGguf)]
    pub async fn from_gguf(
        bytes: Vec<u8>,
        progress: Option<js_sys::Function>,
    ) -> Result<WebDemo, JsError> {
        let device = Device::default_device_async().await.map_err(js)?;
        let demo = Demo::from_gguf(&device, bytes, &mut reporter(progress)).map_err(js)?;
        Ok(WebDemo {
            demo: std::rc::Rc::new(demo),
        })
    }

    /// The model, in words.
    pub fn describe(&self) -> String {
        self.demo.describe()
    }

    /// The device, in words.
    pub fn device(&self) -> String {
        self.demo.describe_device()
    }

    /// The fused plan of one decode step over `context` positions, a few lines a kernel.
    pub fn plan(&self, context: usize) -> Result<String, JsError> {
        self.demo.plan_summary(context).map_err(js)
    }

    /// The GPU time of each kernel of one decode step over `context` positions: a promise of
    /// JSON `[[kernel, ms], ...]`, or of `null` where the adapter has no timestamps between
    /// dispatches.
    pub fn profile(&self, context: usize) -> js_sys::Promise {
        let demo = self.demo.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let times = demo
                .profile_decode(context)
                .await
                .map_err(|e| JsValue::from(js(e)))?;
            serde_json::to_string(&times)
                .map(JsValue::from)
                .map_err(|e| JsValue::from(JsError::new(&e.to_string())))
        })
    }

    /// Generates from `prompt`; `on_token(id, text_so_far)` sees each token as it comes. The
    /// promise resolves to the run's outcome as JSON.
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        &self,
        prompt: String,
        max_tokens: usize,
        temperature: f32,
        top_k: usize,
        top_p: f32,
        seed: u32,
        on_token: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let demo = self.demo.clone();
        let req = Request {
            prompt,
            max_tokens,
            sampling: Sampling {
                temperature,
                top_k,
                top_p,
                seed: u64::from(seed),
            },
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let mut report = |t: u32, text: &str| {
                if let Some(f) = &on_token {
                    if let Err(e) = f.call2(&JsValue::NULL, &t.into(), &text.into()) {
                        log_js("the token callback failed", &e);
                    }
                }
            };
            let out = demo
                .run(&req, &mut report)
                .await
                .map_err(|e| JsValue::from(js(e)))?;
            serde_json::to_string(&out)
                .map(JsValue::from)
                .map_err(|e| JsValue::from(JsError::new(&e.to_string())))
        })
    }
}

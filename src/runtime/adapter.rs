//! Choosing an adapter and opening its device: the instance, the ranking of adapters, the
//! features and limits asked for, and whether kernels may use subgroups.

use crate::{Error, Result};
use kiln_codegen::schedule::limits::AdapterLimits;
use kiln_codegen::schedule::table::DeviceClass;

/// Whether kernels may use subgroup operations: the adapter has `SUBGROUP`, and the WGSL is
/// not handed to a browser as is (naga 30 cannot parse `enable subgroups;`, which a browser's
/// WGSL compiler requires, so kiln's shaders call the built-ins without it; on native
/// backends naga translates them).
pub fn subgroups_usable(features: wgpu::Features, backend: wgpu::Backend) -> bool {
    features.contains(wgpu::Features::SUBGROUP) && backend != wgpu::Backend::BrowserWebGpu
}

/// Whether matmuls may run on tensor cores (`kiln_codegen::coop`): the device has
/// cooperative matrices, 16-bit floats and subgroups enabled (the templates name their
/// subgroups by the `subgroup_id` built-in), the adapter lists the configuration the
/// templates use (16 x 16 x 16, f16 x f16 -> f32), and its subgroups are exactly 32
/// invocations, as the templates assume. Using a configuration the adapter does not list is
/// undefined behaviour, and nothing checks a shader against the list: this is the gate.
pub fn tensor_cores_usable(
    features: wgpu::Features,
    info: &wgpu::AdapterInfo,
    configs: &[wgpu::CooperativeMatrixProperties],
) -> bool {
    let needed = wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX
        | wgpu::Features::SHADER_F16
        | wgpu::Features::SUBGROUP;
    features.contains(needed)
        && info.subgroup_min_size == kiln_codegen::coop::SUBGROUP
        && info.subgroup_max_size == kiln_codegen::coop::SUBGROUP
        && configs.iter().any(|c| {
            c.m_size == kiln_codegen::coop::FRAG
                && c.n_size == kiln_codegen::coop::FRAG
                && c.k_size == kiln_codegen::coop::FRAG
                && c.ab_type == wgpu::CooperativeScalarType::F16
                && c.cr_type == wgpu::CooperativeScalarType::F32
        })
}

/// What an open device allows a schedule.
pub fn schedule_limits(
    limits: &wgpu::Limits,
    features: wgpu::Features,
    backend: wgpu::Backend,
    tensor_cores: bool,
) -> AdapterLimits {
    AdapterLimits {
        max_workgroup: limits.max_compute_invocations_per_workgroup,
        subgroups: subgroups_usable(features, backend),
        tensor_cores,
    }
}

/// The schedule table's class of an adapter type.
pub fn device_class(t: wgpu::DeviceType) -> DeviceClass {
    match t {
        wgpu::DeviceType::Cpu => DeviceClass::Cpu,
        wgpu::DeviceType::DiscreteGpu
        | wgpu::DeviceType::IntegratedGpu
        | wgpu::DeviceType::VirtualGpu
        | wgpu::DeviceType::Other => DeviceClass::Gpu,
    }
}

fn rank(a: &wgpu::AdapterInfo) -> u32 {
    let kind = match a.device_type {
        wgpu::DeviceType::DiscreteGpu => 40,
        wgpu::DeviceType::IntegratedGpu => 30,
        wgpu::DeviceType::VirtualGpu => 20,
        wgpu::DeviceType::Cpu => 10,
        wgpu::DeviceType::Other => 0,
    };
    let backend = match a.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 2,
        wgpu::Backend::BrowserWebGpu => 2,
        _ => 0,
    };
    kind + backend
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN
            | wgpu::Backends::METAL
            | wgpu::Backends::DX12
            | wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

/// Names of the adapters wgpu can see.
pub async fn list() -> Vec<String> {
    instance()
        .enumerate_adapters(wgpu::Backends::all())
        .await
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
        })
        .collect()
}

/// The best adapter with compute shaders, or the first whose name contains `wanted`.
pub async fn pick(wanted: Option<&str>) -> Result<wgpu::Adapter> {
    let inst = instance();
    let mut adapters = inst.enumerate_adapters(wgpu::Backends::all()).await;
    adapters.retain(|a| {
        let d = a.get_downlevel_capabilities();
        d.flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
    });
    let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
    match wanted {
        Some(w) => {
            let wl = w.to_lowercase();
            let pos = names
                .iter()
                .position(|n| n.to_lowercase().contains(&wl))
                .ok_or_else(|| Error::AdapterNotFound {
                    wanted: w.to_string(),
                    available: names.clone(),
                })?;
            Ok(adapters.swap_remove(pos))
        }
        None => {
            adapters.sort_by_key(|a| std::cmp::Reverse(rank(&a.get_info())));
            if adapters.is_empty() {
                return Err(Error::NoAdapter(
                    "wgpu found no adapter with compute shaders".into(),
                ));
            }
            Ok(adapters.remove(0))
        }
    }
}

/// Opens `adapter`'s device with the features kiln uses where it has them (timestamps,
/// pipeline cache, subgroups, 16-bit floats, and cooperative matrices on native backends) and
/// its own limits, the storage buffers per stage capped as `opts` asks.
pub async fn request_device(
    adapter: &wgpu::Adapter,
    opts: &crate::DeviceOptions,
) -> Result<(wgpu::Device, wgpu::Queue)> {
    let mut wanted_features = wgpu::Features::TIMESTAMP_QUERY
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
        | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
        | wgpu::Features::PIPELINE_CACHE
        | wgpu::Features::SUBGROUP
        | wgpu::Features::SHADER_F16;
    if adapter.get_info().backend != wgpu::Backend::BrowserWebGpu {
        wanted_features |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
    }
    let features = adapter.features() & wanted_features;
    let experimental = if features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX) {
        // SAFETY: wgpu's experimental token. kiln uses this feature only through the
        // tensor-core template, only where `tensor_cores_usable` finds the configuration it
        // uses in the adapter's own list, and keeps its shaders within the rules known for
        // naga 30.0.2 (`kiln_codegen::coop`); the tuner checks every tensor-core schedule
        // against the scalar template's results before it keeps one.
        unsafe { wgpu::ExperimentalFeatures::enabled() }
    } else {
        wgpu::ExperimentalFeatures::disabled()
    };
    let mut limits = adapter.limits();
    if let Some(m) = opts.max_storage_buffers {
        // At least WebGPU's minimum of 8: a concat of 7 parts and its output needs them.
        limits.max_storage_buffers_per_shader_stage =
            limits.max_storage_buffers_per_shader_stage.min(m.max(8));
    }
    adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("kiln"),
            required_features: features,
            required_limits: limits,
            experimental_features: experimental,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::NoAdapter(format!("{}: {e}", adapter.get_info().name)))
}

#[cfg(test)]
mod tests {
    use super::subgroups_usable;
    use wgpu::{Backend, Features};

    /// Subgroups only where the adapter has them and naga translates the shaders.
    #[test]
    fn subgroups_where_usable() {
        assert!(subgroups_usable(Features::SUBGROUP, Backend::Vulkan));
        assert!(!subgroups_usable(Features::empty(), Backend::Vulkan));
        assert!(!subgroups_usable(
            Features::SUBGROUP,
            Backend::BrowserWebGpu
        ));
    }
}

//! Workloads of the ops the Burn backend lowers to (convolution, pooling, scans, top-k,
//! scatter), so that the GPU runs measure them beside PyTorch before the Burn workloads do.

use super::{Builder, Metric, Workload};
use kiln::{ConvOptions, IndexUpdate, PoolOptions, Result, Tensor};

/// The named workload, or `None` for a name that is not one of these.
pub(super) fn build(mut b: Builder<'_>, name: &str, large: bool) -> Result<Option<Workload>> {
    let f = 4.0f64;
    Ok(Some(match name {
        "conv2d" => {
            // A ResNet block's 3 x 3 convolution.
            let (n, c, hw) = if large { (8, 64, 56) } else { (1, 16, 28) };
            let x = b.input(&[n, c, hw, hw])?;
            let w = b.weight(&[c, c, 3, 3], 0.1)?;
            let opts = ConvOptions {
                padding: vec![(1, 1), (1, 1)],
                ..ConvOptions::new(2)
            };
            let y = x.conv(&w, None, &opts)?;
            let flops = 2.0 * (n * c * hw * hw * c * 9) as f64;
            b.finish(
                "conv2d",
                format!("b{n} c{c} {hw}x{hw} k3"),
                vec![y],
                Metric::Flops(flops),
            )
        }
        "max_pool" => {
            // ResNet's stem pooling: 3 x 3, stride 2, padding 1.
            let (n, c, hw) = if large { (8, 64, 112) } else { (1, 16, 56) };
            let x = b.input(&[n, c, hw, hw])?;
            let opts = PoolOptions {
                stride: vec![2, 2],
                padding: vec![1, 1],
                ..PoolOptions::new(&[3, 3])
            };
            let y = x.max_pool(&opts)?;
            let bytes = (n * c * hw * hw + n * c * (hw / 2) * (hw / 2)) as f64 * f;
            b.finish(
                "max_pool",
                format!("b{n} c{c} {hw}x{hw} k3 s2"),
                vec![y],
                Metric::Bytes(bytes),
            )
        }
        "cumsum" => {
            let (rows, cols) = if large { (4096, 4096) } else { (256, 1024) };
            let x = b.input(&[rows, cols])?;
            let y = x.cumsum(-1)?;
            let bytes = 2.0 * (rows * cols) as f64 * f;
            b.finish(
                "cumsum",
                format!("{rows}x{cols}"),
                vec![y],
                Metric::Bytes(bytes),
            )
        }
        "topk" => {
            // Sampling's top-k over candidate lists.
            let (rows, n, k) = if large { (64, 1024, 8) } else { (8, 256, 8) };
            let x = b.input(&[rows, n])?;
            let (v, _) = x.topk(k, -1, true)?;
            b.finish("topk", format!("{rows}x{n} k{k}"), vec![v], Metric::Millis)
        }
        "scatter_add" => {
            // A cross-entropy's backward: one value per row added at its label.
            let (rows, classes) = if large { (4096, 32000) } else { (256, 1000) };
            let x = b.input(&[rows, classes])?;
            let labels: Vec<i32> = (0..rows as i32)
                .map(|i| (i * 7919) % classes as i32)
                .collect();
            let index = Tensor::from_slice_on(b.dev, &labels, &[rows, 1])?;
            let v = b.input(&[rows, 1])?;
            let y = x.scatter_reduce(1, &index, &v, IndexUpdate::Add)?;
            let bytes = 2.0 * (rows * classes) as f64 * f;
            b.finish(
                "scatter_add",
                format!("{rows}x{classes}"),
                vec![y],
                Metric::Bytes(bytes),
            )
        }
        _ => return Ok(None),
    }))
}

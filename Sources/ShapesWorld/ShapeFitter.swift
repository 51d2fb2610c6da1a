import Foundation

// Shape by fitting blurred templates, for blobs whose thresholded mask no longer has crisp corners
// (small objects after a lossy reconstruction). The component's intensity along its colour
// direction, t in [0, 1], is compared with each unit shape rendered at the blob's centre and size
// (4x4 supersampled) and blurred by a Gaussian of several widths; the least squared error wins.

struct ShapeFitter {
    static let sigmas: [Double] = [0, 0.75, 1.25, 1.75, 2.5]
    /// Side offsets tried around the measured side: thresholding a soft blob shrinks it.
    static let sizeSteps: [Double] = [-1, 0, 1, 2, 3]

    /// Observed intensity on a window, NaN where another component's pixels are.
    let t: [Double]
    let window: (x0: Int, y0: Int, width: Int, height: Int)
    /// Sides the world draws (in image pixels), always tried.
    var sides: [Double] = []

    /// Best shape for a blob whose box centre is (cx, cy) and whose side is about `side` pixels.
    func bestShape(centroidX: Double, centroidY: Double, side: Double) -> (shape: ShapeKind, error: Double) {
        var best = (shape: ShapeKind.square, error: Double.infinity)
        for shape in ShapeKind.allCases {
            for candidate in Self.sizeSteps.map({ side + $0 }) + sides {
                let h = max(2, candidate / 2)
                let coverage = rasterize(shape, x: centroidX, y: centroidY - shape.centroidOffsetY * h, halfSize: h)
                for sigma in Self.sigmas {
                    let template = sigma == 0 ? coverage : blur(coverage, sigma: sigma)
                    var error = 0.0
                    for (observed, predicted) in zip(t, template) where !observed.isNaN {
                        error += (observed - predicted) * (observed - predicted)
                    }
                    if error < best.error { best = (shape, error) }
                }
            }
        }
        return best
    }

    /// Share of each window pixel inside the shape (4x4 samples per pixel).
    func rasterize(_ shape: ShapeKind, x cx: Double, y cy: Double, halfSize h: Double) -> [Double] {
        var out = [Double](repeating: 0, count: window.width * window.height)
        for wy in 0..<window.height {
            for wx in 0..<window.width {
                var inside = 0
                for sy in 0..<4 {
                    let v = (Double(window.y0 + wy) + (Double(sy) + 0.5) / 4 - cy) / h
                    for sx in 0..<4 {
                        let u = (Double(window.x0 + wx) + (Double(sx) + 0.5) / 4 - cx) / h
                        if shape.contains(x: u, y: v) { inside += 1 }
                    }
                }
                out[wy * window.width + wx] = Double(inside) / 16
            }
        }
        return out
    }

    func blur(_ values: [Double], sigma: Double) -> [Double] {
        let radius = Int((3 * sigma).rounded(.up))
        var kernel = (-radius...radius).map { d in exp(-Double(d * d) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        let w = window.width, h = window.height
        var horizontal = [Double](repeating: 0, count: w * h), out = horizontal
        for y in 0..<h {
            for x in 0..<w {
                var sum = 0.0
                for k in -radius...radius where x + k >= 0 && x + k < w { sum += kernel[k + radius] * values[y * w + x + k] }
                horizontal[y * w + x] = sum
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                var sum = 0.0
                for k in -radius...radius where y + k >= 0 && y + k < h { sum += kernel[k + radius] * horizontal[(y + k) * w + x] }
                out[y * w + x] = sum
            }
        }
        return out
    }
}

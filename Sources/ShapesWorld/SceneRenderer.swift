import EmuIO

/// Exact rasterization: a pixel takes an object's colour when its centre lies inside the shape.
/// Flat colours, no anti-aliasing: the cleanest input for a small VQ.
public enum SceneRenderer {
    public static func render(_ scene: Scene) -> RGBImage {
        var image = RGBImage(width: scene.canvasSize, height: scene.canvasSize, fill: sceneBackground)
        for object in scene.objects { draw(object, into: &image) }
        return image
    }

    /// Paints one object; `halfSize` overrides the object's own (the gripper world draws smaller).
    public static func draw(_ object: SceneObject, halfSize: Double? = nil, into image: inout RGBImage) {
        let h = halfSize ?? object.halfSize
        let x0 = max(0, Int((object.x - h).rounded(.down))), x1 = min(image.width - 1, Int((object.x + h).rounded(.up)))
        let y0 = max(0, Int((object.y - h).rounded(.down))), y1 = min(image.height - 1, Int((object.y + h).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let color = object.color.rgb
        for py in y0...y1 {
            let v = (Double(py) + 0.5 - object.y) / h
            for px in x0...x1 {
                let u = (Double(px) + 0.5 - object.x) / h
                if object.shape.contains(x: u, y: v) { image[px, py] = color }
            }
        }
    }

    /// A hollow square outline of `thickness` pixels; with `gapped`, the middle of every side is left
    /// open (the open gripper's corner brackets).
    public static func drawOutline(x0: Int, y0: Int, side: Int, thickness: Int, gapped: Bool,
                                   color: (r: UInt8, g: UInt8, b: UInt8), into image: inout RGBImage) {
        let gapStart = side / 3, gapEnd = side - side / 3
        for dy in 0..<side {
            for dx in 0..<side {
                let onEdge = dx < thickness || dy < thickness || dx >= side - thickness || dy >= side - thickness
                guard onEdge else { continue }
                if gapped {
                    let inHorizontalGap = dx >= gapStart && dx < gapEnd
                    let inVerticalGap = dy >= gapStart && dy < gapEnd
                    if inHorizontalGap || inVerticalGap { continue }
                }
                let px = x0 + dx, py = y0 + dy
                if px >= 0, py >= 0, px < image.width, py < image.height { image[px, py] = color }
            }
        }
    }
}

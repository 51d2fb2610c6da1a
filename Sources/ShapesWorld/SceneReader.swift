import EmuIO

// Reads a picture back into objects, for scoring generated and reconstructed images:
//   background = per-channel median (objects cover well under half the canvas);
//   foreground = pixels whose largest channel differs from it by >= `foregroundThreshold`, which is
//     about half of every palette colour's contrast, so a blurred edge is cut where the sharp edge was;
//   objects = 4-connected components of at least `minimumPixels`;
//   colour = nearest palette colour (allowing a brightness scale) to the mean of the component's
//     core (pixels at >= 75% of its peak contrast);
//   shape = the unit shape whose mask, rasterized over the component's bounding box, has the best
//     intersection-over-union with the component;
//   size = the side of that shape with the component's area (sqrt(area / fill ratio)) against the
//     midpoint of the two sizes; position = centroid, less the shape's centroid offset (box centre).

/// One object read from an image, with the evidence behind it.
public struct DetectedObject: Sendable, Hashable {
    /// Shape, colour, size and box centre, in 64-pixel canvas units.
    public var object: SceneObject
    public var pixelCount: Int
    /// Side of the equivalent shape, canvas pixels.
    public var extent: Double
    /// Intersection-over-union of the component with the chosen shape's mask (1 = exact).
    public var shapeMatch: Double
}

public struct SceneReader: Sendable {
    public var foregroundThreshold: Int
    /// Components smaller than this (in canvas pixels) are noise.
    public var minimumPixels: Int

    /// Masks matching a shape this well (IoU) are taken as crisp; below it the shape is fitted.
    public var crispMatch: Double

    public init(foregroundThreshold: Int = 100, minimumPixels: Int = 16, crispMatch: Double = 0.95) {
        self.foregroundThreshold = foregroundThreshold; self.minimumPixels = minimumPixels
        self.crispMatch = crispMatch
    }

    public func objects(in image: RGBImage) -> [SceneObject] { read(image).map(\.object) }

    public func read(_ image: RGBImage) -> [DetectedObject] {
        let width = image.width, height = image.height
        guard width > 0, height > 0 else { return [] }
        let scale = Double(Scene.canvasSize) / Double(width)
        let background = Self.medianColor(image)
        var contrast = [Int](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            var largest = 0
            for c in 0..<3 { largest = max(largest, abs(Int(image.pixels[3 * i + c]) - background[c])) }
            contrast[i] = largest
        }
        var label = [Int](repeating: -1, count: width * height)
        var detected: [DetectedObject] = []
        var componentCount = 0
        for start in 0..<(width * height) where contrast[start] >= foregroundThreshold && label[start] < 0 {
            // Flood fill one component.
            var members = [start]
            label[start] = componentCount
            var cursor = 0
            while cursor < members.count {
                let p = members[cursor]; cursor += 1
                let x = p % width, y = p / width
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                where nx >= 0 && ny >= 0 && nx < width && ny < height {
                    let q = ny * width + nx
                    if label[q] < 0 && contrast[q] >= foregroundThreshold { label[q] = componentCount; members.append(q) }
                }
            }
            let area = Double(members.count) * scale * scale
            if area >= Double(minimumPixels) {
                detected.append(describe(members, label: componentCount, labels: label, image: image,
                                         contrast: contrast, background: background, scale: scale))
            }
            componentCount += 1
        }
        return detected
    }

    private func describe(_ members: [Int], label: Int, labels: [Int], image: RGBImage, contrast: [Int],
                          background: [Int], scale: Double) -> DetectedObject {
        let width = image.width
        var minX = Int.max, maxX = Int.min, minY = Int.max, maxY = Int.min
        var sumX = 0.0, sumY = 0.0, peak = 0
        for p in members {
            let x = p % width, y = p / width
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            sumX += Double(x) + 0.5; sumY += Double(y) + 0.5
            peak = max(peak, contrast[p])
        }
        // Colour from the core, relative to the background.
        var mean = [0.0, 0.0, 0.0], coreCount = 0.0
        for p in members where contrast[p] * 4 >= peak * 3 {
            for c in 0..<3 { mean[c] += Double(image.pixels[3 * p + c]) }
            coreCount += 1
        }
        let color = Self.nearestPaletteColor(mean.map { $0 / max(coreCount, 1) })

        // Shape by mask IoU over the bounding box.
        let boxWidth = maxX - minX + 1, boxHeight = maxY - minY + 1
        var bestShape = ShapeKind.square, bestIoU = -1.0
        for shape in ShapeKind.allCases {
            var intersection = 0, union = 0
            for by in 0..<boxHeight {
                let v = (Double(by) + 0.5) / Double(boxHeight) * 2 - 1
                for bx in 0..<boxWidth {
                    let u = (Double(bx) + 0.5) / Double(boxWidth) * 2 - 1
                    let inShape = shape.contains(x: u, y: v)
                    let inComponent = labels[(minY + by) * width + minX + bx] == label
                    if inShape && inComponent { intersection += 1 }
                    if inShape || inComponent { union += 1 }
                }
            }
            let iou = union == 0 ? 0 : Double(intersection) / Double(union)
            if iou > bestIoU { bestIoU = iou; bestShape = shape }
        }
        // A crisp mask decides by itself; a soft one (lossy reconstruction) is settled by fitting
        // blurred templates to the intensities around it.
        if bestIoU < crispMatch {
            let margin = 4
            let x0 = max(0, minX - margin), y0 = max(0, minY - margin)
            let x1 = min(width - 1, maxX + margin), y1 = min(image.height - 1, maxY + margin)
            let rgb = color.rgb
            let direction = [Double(rgb.r) - Double(background[0]), Double(rgb.g) - Double(background[1]),
                             Double(rgb.b) - Double(background[2])]
            let norm = direction.reduce(0) { $0 + $1 * $1 }
            var t: [Double] = []
            for y in y0...y1 {
                for x in x0...x1 {
                    let p = y * width + x
                    if labels[p] >= 0 && labels[p] != label { t.append(.nan); continue }
                    var dot = 0.0
                    for c in 0..<3 { dot += (Double(image.pixels[3 * p + c]) - Double(background[c])) * direction[c] }
                    t.append(min(1.2, max(-0.2, dot / max(norm, 1))))
                }
            }
            let fitter = ShapeFitter(t: t, window: (x0, y0, x1 - x0 + 1, y1 - y0 + 1),
                                     sides: ObjectSize.allCases.map { Double($0.pixels) / scale })
            let side = Double(max(boxWidth, boxHeight))
            bestShape = fitter.bestShape(centroidX: sumX / Double(members.count), centroidY: sumY / Double(members.count),
                                         side: side).shape
        }
        let area = Double(members.count) * scale * scale
        let extent = (area / bestShape.fillRatio).squareRoot()
        let sizeThreshold = Double(ObjectSize.small.pixels + ObjectSize.large.pixels) / 2
        let size: ObjectSize = extent >= sizeThreshold ? .large : .small
        let count = Double(members.count)
        let x = sumX / count * scale
        let y = sumY / count * scale - bestShape.centroidOffsetY * extent / 2
        return DetectedObject(object: SceneObject(shape: bestShape, color: color, size: size, x: x, y: y),
                              pixelCount: members.count, extent: extent, shapeMatch: bestIoU)
    }

    /// Per-channel median of all pixels.
    static func medianColor(_ image: RGBImage) -> [Int] {
        (0..<3).map { channel in
            var histogram = [Int](repeating: 0, count: 256)
            for i in 0..<(image.width * image.height) { histogram[Int(image.pixels[3 * i + channel])] += 1 }
            let half = image.width * image.height / 2
            var seen = 0
            for value in 0..<256 {
                seen += histogram[value]
                if seen > half { return value }
            }
            return 255
        }
    }

    /// The palette colour p minimising |c - s p| over brightness scales s in [0.4, 1.2]: blur and
    /// dark reconstructions dim a colour without turning it into another.
    public static func nearestPaletteColor(_ color: [Double]) -> ObjectColor {
        var best = ObjectColor.white, bestDistance = Double.infinity
        for candidate in ObjectColor.allCases {
            let rgb = candidate.rgb
            let p = [Double(rgb.r), Double(rgb.g), Double(rgb.b)]
            let dot = zip(color, p).reduce(0) { $0 + $1.0 * $1.1 }
            let norm = p.reduce(0) { $0 + $1 * $1 }
            let s = min(1.2, max(0.4, dot / norm))
            let distance = zip(color, p).reduce(0) { $0 + ($1.0 - s * $1.1) * ($1.0 - s * $1.1) }
            if distance < bestDistance { bestDistance = distance; best = candidate }
        }
        return best
    }
}

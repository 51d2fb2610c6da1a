/// dtype conversion. Half types are storage formats: compute widens them to float32.
extension Tensor {
    /// This tensor converted to `target` (a copy; returns self when already of that dtype).
    public func to(_ target: DType) -> Tensor {
        if target == dtype { return self }
        let out = Tensor(zeros: shape, dtype: target)
        let n = count
        // Widen to float32 first, then narrow.
        let wide: UnsafeBufferPointer<Float>
        var temp: Tensor? = nil
        if dtype == .float32 {
            wide = floats
        } else {
            let t = Tensor(zeros: shape, dtype: .float32)
            let dst = t.rawPointer.assumingMemoryBound(to: Float.self)
            switch dtype {
            case .bfloat16:
                let src = rawPointer.assumingMemoryBound(to: UInt16.self)
                for i in 0..<n { dst[i] = Float(bitPattern: UInt32(src[i]) << 16) }
            case .float16:
                let src = rawPointer.assumingMemoryBound(to: UInt16.self)
                for i in 0..<n { dst[i] = halfToFloat(src[i]) }
            case .int32:
                let src = rawPointer.assumingMemoryBound(to: Int32.self)
                for i in 0..<n { dst[i] = Float(src[i]) }
            case .int64:
                let src = rawPointer.assumingMemoryBound(to: Int64.self)
                for i in 0..<n { dst[i] = Float(src[i]) }
            case .int8:
                let src = rawPointer.assumingMemoryBound(to: Int8.self)
                for i in 0..<n { dst[i] = Float(src[i]) }
            case .uint8, .bool:
                let src = rawPointer.assumingMemoryBound(to: UInt8.self)
                for i in 0..<n { dst[i] = Float(src[i]) }
            case .float32: break
            }
            temp = t
            wide = t.floats
        }
        defer { _ = temp }
        switch target {
        case .float32:
            out.rawPointer.copyMemory(from: UnsafeRawPointer(wide.baseAddress!), byteCount: n * 4)
        case .bfloat16:
            let dst = out.rawPointer.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { dst[i] = floatToBFloat16(wide[i]) }
        case .float16:
            let dst = out.rawPointer.assumingMemoryBound(to: UInt16.self)
            for i in 0..<n { dst[i] = floatToHalf(wide[i]) }
        case .int32:
            let dst = out.rawPointer.assumingMemoryBound(to: Int32.self)
            for i in 0..<n { dst[i] = Int32(wide[i]) }
        case .int64:
            let dst = out.rawPointer.assumingMemoryBound(to: Int64.self)
            for i in 0..<n { dst[i] = Int64(wide[i]) }
        case .int8:
            let dst = out.rawPointer.assumingMemoryBound(to: Int8.self)
            for i in 0..<n { dst[i] = Int8(clamping: Int(wide[i])) }
        case .uint8, .bool:
            let dst = out.rawPointer.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { dst[i] = UInt8(clamping: Int(wide[i])) }
        }
        if dtype.isFloatingPoint && target.isFloatingPoint {
            let source = dtype
            return Autograd.record(out, inputs: [self]) { g in [g.to(source)] }
        }
        return out
    }
}

/// bfloat16 bits from a float, rounding to nearest even (as PyTorch does); NaN stays NaN.
@inline(__always) public func floatToBFloat16(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounding = ((bits >> 16) & 1) + 0x7FFF
    return UInt16((bits &+ rounding) >> 16)
}

@inline(__always) public func bfloat16ToFloat(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

@inline(__always) public func halfToFloat(_ h: UInt16) -> Float {
    #if arch(x86_64) || arch(arm64)
    return Float(Float16(bitPattern: h))
    #else
    fatalError("float16 unsupported on this architecture")
    #endif
}

@inline(__always) public func floatToHalf(_ x: Float) -> UInt16 {
    #if arch(x86_64) || arch(arm64)
    return Float16(x).bitPattern
    #else
    fatalError("float16 unsupported on this architecture")
    #endif
}

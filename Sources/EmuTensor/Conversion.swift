import CEmuKernels

/// dtype conversion. Half types are storage formats: compute widens them to float32.
extension Tensor {
    /// This tensor converted to `target` (a copy; returns self when already of that dtype).
    public func to(_ target: DType) -> Tensor {
        if target == dtype { return self }
        let out = Tensor(uninitialized: shape, dtype: target)
        let n = count
        let src = UnsafeRawPointer(rawPointer), dst = out.rawPointer
        switch (dtype, target) {
        case (.bfloat16, .float32):
            emu_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst.assumingMemoryBound(to: Float.self), n)
        case (.float16, .float32):
            emu_f16_to_f32(src.assumingMemoryBound(to: UInt16.self), dst.assumingMemoryBound(to: Float.self), n)
        case (.float32, .bfloat16):
            emu_f32_to_bf16(src.assumingMemoryBound(to: Float.self), dst.assumingMemoryBound(to: UInt16.self), n)
        case (.float32, .float16):
            emu_f32_to_f16(src.assumingMemoryBound(to: Float.self), dst.assumingMemoryBound(to: UInt16.self), n)
        default:
            // Other pairs go through float32.
            let wide = dtype == .float32 ? self : widened()
            withExtendedLifetime(wide) { Tensor.narrow(wide.floats, to: target, out) }
        }
        if dtype.isFloatingPoint && target.isFloatingPoint {
            let source = dtype
            return Autograd.record(out, inputs: [self]) { g in [g.to(source)] }
        }
        return out
    }

    /// Float32 copy of any dtype (no autograd).
    private func widened() -> Tensor {
        if dtype == .bfloat16 || dtype == .float16 { return detached().to(.float32) }
        let t = Tensor(uninitialized: shape, dtype: .float32)
        let dst = t.floatPointer, n = count
        switch dtype {
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
        case .float32, .float16, .bfloat16: break
        }
        return t
    }

    private static func narrow(_ wide: UnsafeBufferPointer<Float>, to target: DType, _ out: Tensor) {
        let n = wide.count
        guard let base = wide.baseAddress else { return }
        switch target {
        case .float32:
            out.rawPointer.copyMemory(from: UnsafeRawPointer(base), byteCount: n * 4)
        case .bfloat16:
            emu_f32_to_bf16(base, out.rawPointer.assumingMemoryBound(to: UInt16.self), n)
        case .float16:
            emu_f32_to_f16(base, out.rawPointer.assumingMemoryBound(to: UInt16.self), n)
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

/// float16 bits to float (portable: the same conversion as the kernels).
@inline(__always) public func halfToFloat(_ h: UInt16) -> Float { emu_f16_value(h) }

/// float to float16 bits, rounding to nearest even.
@inline(__always) public func floatToHalf(_ x: Float) -> UInt16 { emu_f16_bits(x) }

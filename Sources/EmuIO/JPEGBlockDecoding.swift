/// Decoding of one 8x8 block's coefficients for sequential scans and the four kinds of
/// progressive scans (DC first/refine, AC first/refine with end-of-band runs).
extension JPEGDecoder {
    mutating func decodeBlock(component c: Int, row: Int, column: Int, scan: ScanParameters,
                              reader: inout JPEGBitReader) throws {
        let base = (row * components[c].blocksPerLine + column) * 64
        guard base + 64 <= components[c].coefficients.count else { return }
        if !progressive {
            try decodeSequential(c, base, &reader)
        } else if scan.ss == 0 {
            if scan.ah == 0 {
                let s = try reader.decode(dcTables[components[c].dcTable]!)
                guard s <= 16 else { throw MediaError(.corrupt, "JPEG", "DC magnitude category \(s)") }
                components[c].dcPredictor &+= reader.receiveExtended(s)
                components[c].coefficients[base] = Int16(truncatingIfNeeded: components[c].dcPredictor << scan.al)
            } else if reader.bit() == 1 {
                components[c].coefficients[base] |= Int16(truncatingIfNeeded: 1 << scan.al)
            }
        } else if scan.ah == 0 {
            try decodeACFirst(c, base, scan, &reader)
        } else {
            try decodeACRefine(c, base, scan, &reader)
        }
    }

    mutating func decodeSequential(_ c: Int, _ base: Int, _ reader: inout JPEGBitReader) throws {
        let dc = dcTables[components[c].dcTable]!, ac = acTables[components[c].acTable]!
        let s = try reader.decode(dc)
        guard s <= 16 else { throw MediaError(.corrupt, "JPEG", "DC magnitude category \(s)") }
        components[c].dcPredictor &+= reader.receiveExtended(s)
        let dcValue = Int16(truncatingIfNeeded: components[c].dcPredictor)
        try components[c].coefficients.withUnsafeMutableBufferPointer { block in
            block[base] = dcValue
            var k = 1
            while k < 64 {
                let rs = try reader.decode(ac)
                let r = rs >> 4, size = rs & 15
                if size == 0 {
                    if r != 15 { break }  // end of block
                    k += 16
                    continue
                }
                k += r
                guard k < 64 else { throw MediaError(.corrupt, "JPEG", "AC coefficient index past 63") }
                block[base + Self.naturalOrder[k]] = Int16(truncatingIfNeeded: reader.receiveExtended(size))
                k += 1
            }
        }
    }

    mutating func decodeACFirst(_ c: Int, _ base: Int, _ scan: ScanParameters, _ reader: inout JPEGBitReader) throws {
        if eobRun > 0 { eobRun -= 1; return }
        let ac = acTables[components[c].acTable]!
        var k = scan.ss
        while k <= scan.se {
            let rs = try reader.decode(ac)
            let r = rs >> 4, size = rs & 15
            if size != 0 {
                k += r
                guard k <= 63 else { throw MediaError(.corrupt, "JPEG", "AC coefficient index past 63") }
                let value = reader.receiveExtended(size) * (1 << scan.al)
                components[c].coefficients[base + Self.naturalOrder[k]] = Int16(truncatingIfNeeded: value)
            } else if r == 15 {
                k += 15
            } else {
                eobRun = (1 << r) - 1
                if r > 0 { eobRun += reader.bits(r) }
                break
            }
            k += 1
        }
    }

    mutating func decodeACRefine(_ c: Int, _ base: Int, _ scan: ScanParameters, _ reader: inout JPEGBitReader) throws {
        let ac = acTables[components[c].acTable]!
        let plus = 1 << scan.al, minus = -1 << scan.al
        try components[c].coefficients.withUnsafeMutableBufferPointer { block in
            /// Adds a correction bit to an already non-zero coefficient.
            func refine(_ index: Int, _ reader: inout JPEGBitReader) {
                let coef = Int(block[index])
                if reader.bit() == 1 && coef & plus == 0 {
                    block[index] = Int16(truncatingIfNeeded: coef >= 0 ? coef + plus : coef + minus)
                }
            }
            var k = scan.ss
            if eobRun == 0 {
                while k <= scan.se {
                    let rs = try reader.decode(ac)
                    var r = rs >> 4
                    let size = rs & 15
                    var value = 0
                    if size != 0 {
                        // size must be 1 here; libjpeg tolerates other values with a warning.
                        value = reader.bit() == 1 ? plus : minus
                    } else if r != 15 {
                        eobRun = 1 << r
                        if r > 0 { eobRun += reader.bits(r) }
                        break
                    }
                    // Skip r zero coefficients (refining non-zero ones on the way), then place value.
                    while k <= scan.se {
                        let index = base + Self.naturalOrder[k]
                        if block[index] != 0 {
                            refine(index, &reader)
                        } else {
                            if r == 0 { break }
                            r -= 1
                        }
                        k += 1
                    }
                    if value != 0 && k <= scan.se { block[base + Self.naturalOrder[k]] = Int16(value) }
                    k += 1
                }
            }
            if eobRun > 0 {
                while k <= scan.se {
                    let index = base + Self.naturalOrder[k]
                    if block[index] != 0 { refine(index, &reader) }
                    k += 1
                }
                eobRun -= 1
            }
        }
    }
}

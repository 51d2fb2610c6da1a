import Foundation

/// `preprocessor_config.json` of an Emu3 checkpoint (transformers' `Emu3ImageProcessor`, or BAAI's
/// `Emu3VisionVQImageProcessor`, which uses the same field names). Missing fields take
/// transformers' defaults.
public struct PreprocessorConfig: Codable, Sendable, Equatable {
    /// Resized images keep their area within [minPixels, maxPixels].
    public var minPixels: Int
    public var maxPixels: Int
    /// Sides are rounded to multiples of this (the VQ's spatial downsampling).
    public var spatialFactor: Int
    public var imageMean: [Double]
    public var imageStd: [Double]
    public var doResize: Bool
    /// PIL resampling filter id (3 = bicubic).
    public var resample: Int
    public var doRescale: Bool
    public var rescaleFactor: Double
    public var doNormalize: Bool
    public var doConvertRGB: Bool
    public var doPad: Bool
    public var imageProcessorType: String?

    /// CLIP statistics, transformers' default when a config gives none.
    static let clipMean = [0.48145466, 0.4578275, 0.40821073]
    static let clipStd = [0.26862954, 0.26130258, 0.27577711]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        minPixels = try c.value("min_pixels", default: 512 * 512)
        maxPixels = try c.value("max_pixels", default: 1024 * 1024)
        spatialFactor = try c.value("spatial_factor", default: 8)
        imageMean = try PreprocessorConfig.channels(c, "image_mean") ?? PreprocessorConfig.clipMean
        imageStd = try PreprocessorConfig.channels(c, "image_std") ?? PreprocessorConfig.clipStd
        doResize = try c.value("do_resize", default: true)
        resample = try c.value("resample", default: 3)
        doRescale = try c.value("do_rescale", default: true)
        rescaleFactor = try c.value("rescale_factor", default: 1.0 / 255.0)
        doNormalize = try c.value("do_normalize", default: true)
        doConvertRGB = try c.value("do_convert_rgb", default: true)
        doPad = try c.value("do_pad", default: true)
        imageProcessorType = try c.decodeIfPresent(String.self, forKey: AnyKey("image_processor_type"))
        guard minPixels > 0, maxPixels >= minPixels, spatialFactor > 0, imageMean.count == 3, imageStd.count == 3,
              !imageStd.contains(0) else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription:
                "need 0 < min_pixels <= max_pixels, spatial_factor > 0, and 3 non-zero image_std values"))
        }
    }

    /// A per-channel statistic written as one number or a list (a single number applies to all).
    private static func channels(_ c: KeyedDecodingContainer<AnyKey>, _ key: String) throws -> [Double]? {
        guard c.contains(AnyKey(key)), try !c.decodeNil(forKey: AnyKey(key)) else { return nil }
        if let single = try? c.decode(Double.self, forKey: AnyKey(key)) { return [single, single, single] }
        return try c.decode([Double].self, forKey: AnyKey(key))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        func put<T: Encodable>(_ value: T?, _ key: String) throws { try c.encodeIfPresent(value, forKey: AnyKey(key)) }
        try put(minPixels, "min_pixels"); try put(maxPixels, "max_pixels"); try put(spatialFactor, "spatial_factor")
        try put(imageMean, "image_mean"); try put(imageStd, "image_std"); try put(doResize, "do_resize")
        try put(resample, "resample"); try put(doRescale, "do_rescale"); try put(rescaleFactor, "rescale_factor")
        try put(doNormalize, "do_normalize"); try put(doConvertRGB, "do_convert_rgb"); try put(doPad, "do_pad")
        try put(imageProcessorType, "image_processor_type")
    }

    public static func decode(_ data: Data, file: String = "preprocessor_config.json") throws(ConfigError) -> PreprocessorConfig {
        try decodeConfig(PreprocessorConfig.self, from: data, file: file)
    }

    public static func load(path: String) throws(ConfigError) -> PreprocessorConfig {
        try decode(readConfigFile(path), file: path)
    }
}

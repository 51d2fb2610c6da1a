// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "swift-emu",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "EmuTensor", targets: ["EmuTensor"]),
        .library(name: "EmuIO", targets: ["EmuIO"]),
        .library(name: "EmuTokenizers", targets: ["EmuTokenizers"]),
        .library(name: "Emu3", targets: ["Emu3"]),
        .library(name: "EmuTraining", targets: ["EmuTraining"]),
        .library(name: "ShapesWorld", targets: ["ShapesWorld"]),
        .library(name: "ShapesRecipe", targets: ["ShapesRecipe"]),
        .library(name: "EmuServer", targets: ["EmuServer"]),
        .executable(name: "emu", targets: ["emu"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        // C kernels: per-function target attributes + run-time CPU dispatch, no unsafeFlags.
        .target(name: "CEmuKernels", cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "EmuTensor", dependencies: ["CEmuKernels"]),
        .target(name: "EmuIO", dependencies: ["EmuTensor"]),
        .target(name: "EmuTokenizers"),
        .target(name: "Emu3", dependencies: ["EmuTensor", "EmuIO", "EmuTokenizers"]),
        .target(name: "EmuTraining", dependencies: ["EmuTensor", "EmuIO", "EmuTokenizers", "Emu3"]),
        .target(name: "ShapesWorld", dependencies: ["EmuIO", "EmuTokenizers"]),
        // The bundled model's recipe and task runners: ShapesWorld's data through Emu3 and EmuTraining.
        .target(name: "ShapesRecipe", dependencies: ["ShapesWorld", "Emu3", "EmuTraining", "EmuTensor", "EmuIO", "EmuTokenizers"]),
        .target(name: "EmuServer", dependencies: [
            "Emu3", "EmuIO", "EmuTokenizers", "ShapesRecipe",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .executableTarget(name: "emu", dependencies: [
            "EmuTensor", "EmuIO", "EmuTokenizers", "Emu3", "EmuTraining", "ShapesWorld", "ShapesRecipe", "EmuServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "EmuTensorTests", dependencies: ["EmuTensor"]),
        .testTarget(name: "EmuIOTests", dependencies: ["EmuIO", "EmuTensor"], resources: []),
        .testTarget(name: "EmuTokenizersTests", dependencies: ["EmuTokenizers"]),
        .testTarget(name: "Emu3Tests", dependencies: ["Emu3", "EmuIO", "EmuTensor", "EmuTokenizers"]),
        .testTarget(name: "EmuTrainingTests", dependencies: ["EmuTraining", "Emu3", "EmuTensor", "EmuIO"]),
        .testTarget(name: "ShapesWorldTests", dependencies: ["ShapesWorld"]),
        .testTarget(name: "ShapesRecipeTests", dependencies: ["ShapesRecipe", "ShapesWorld", "Emu3", "EmuTensor", "EmuTraining"]),
        .testTarget(name: "EmuServerTests", dependencies: ["EmuServer", "Emu3", "EmuIO", "ShapesRecipe", "ShapesWorld", .product(name: "HummingbirdTesting", package: "hummingbird")]),
    ]
)

// ShapesWorld module.

; Ruby: classes, modules, instance and singleton methods.
(class name: (constant) @def.class)
(class name: (scope_resolution name: (constant) @def.class))
(module name: (constant) @def.module)
(module name: (scope_resolution name: (constant) @def.module))
(method name: (_) @def.method)
(singleton_method name: (_) @def.method)

(call method: (identifier) @ref)
(superclass (constant) @ref)
(constant) @ref

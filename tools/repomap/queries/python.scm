; Python: classes and functions (methods are functions inside a class body);
; references are calls, attribute names, base classes, imports, decorators and annotations.
(class_definition name: (identifier) @def.class)
(function_definition name: (identifier) @def.function)

(call function: (identifier) @ref)
(attribute attribute: (identifier) @ref)
(class_definition superclasses: (argument_list (identifier) @ref))
(import_from_statement name: (dotted_name (identifier) @ref))
(aliased_import name: (dotted_name (identifier) @ref))
(decorator (identifier) @ref)
(type (identifier) @ref)

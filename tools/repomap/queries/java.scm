; Java: types and their methods and constructors.
(class_declaration name: (identifier) @def.class)
(interface_declaration name: (identifier) @def.interface)
(enum_declaration name: (identifier) @def.enum)
(record_declaration name: (identifier) @def.class)
(annotation_type_declaration name: (identifier) @def.interface)
(method_declaration name: (identifier) @def.method)
(constructor_declaration name: (identifier) @def.method)

(method_invocation name: (identifier) @ref)
(object_creation_expression type: (type_identifier) @ref)
(type_identifier) @ref

; Rust: items; functions inside an impl or trait are methods of that type.
(struct_item name: (type_identifier) @def.class)
(enum_item name: (type_identifier) @def.enum)
(union_item name: (type_identifier) @def.class)
(type_item name: (type_identifier) @def.type)
(trait_item name: (type_identifier) @def.interface)
(function_item name: (identifier) @def.function)
(function_signature_item name: (identifier) @def.function)
(mod_item name: (identifier) @def.module)
(macro_definition name: (identifier) @def.macro)
(const_item name: (identifier) @def.constant)
(static_item name: (identifier) @def.constant)

(call_expression function: (identifier) @ref)
(call_expression function: (field_expression field: (field_identifier) @ref))
(call_expression function: (scoped_identifier name: (identifier) @ref))
(macro_invocation macro: (identifier) @ref)
(type_identifier) @ref

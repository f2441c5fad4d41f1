; Go: functions, methods (qualified by receiver type), and named types.
(function_declaration name: (identifier) @def.function)
(method_declaration name: (field_identifier) @def.method)
(type_spec name: (type_identifier) @def.type)
(method_elem name: (field_identifier) @def.method)

(call_expression function: (identifier) @ref)
(call_expression function: (selector_expression field: (field_identifier) @ref))
(type_identifier) @ref
(qualified_type name: (type_identifier) @ref)

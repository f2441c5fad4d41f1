; C: function definitions and prototypes, structs, unions, enums, typedefs, macros.
(function_definition declarator: (function_declarator declarator: (identifier) @def.function))
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @def.function)))
(declaration declarator: (function_declarator declarator: (identifier) @def.function))
(struct_specifier name: (type_identifier) @def.class body: (_))
(union_specifier name: (type_identifier) @def.class body: (_))
(enum_specifier name: (type_identifier) @def.enum body: (_))
(type_definition declarator: (type_identifier) @def.type)
(preproc_function_def name: (identifier) @def.macro)

(call_expression function: (identifier) @ref)
(call_expression function: (field_expression field: (field_identifier) @ref))
(type_identifier) @ref

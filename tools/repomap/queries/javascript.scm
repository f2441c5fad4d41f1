; JavaScript (and JSX): declarations, methods, and functions bound to names.
(class_declaration name: (identifier) @def.class)
(class name: (identifier) @def.class)
(function_declaration name: (identifier) @def.function)
(generator_function_declaration name: (identifier) @def.function)
(method_definition name: (property_identifier) @def.method)
(variable_declarator
  name: (identifier) @def.function
  value: [(arrow_function) (function_expression)])
(assignment_expression
  left: (member_expression property: (property_identifier) @def.function)
  right: [(arrow_function) (function_expression)])
(pair
  key: (property_identifier) @def.function
  value: [(arrow_function) (function_expression)])

(call_expression function: (identifier) @ref)
(call_expression function: (member_expression property: (property_identifier) @ref))
(new_expression constructor: (identifier) @ref)
(class_heritage (identifier) @ref)
(import_specifier name: (identifier) @ref)

{
  "targets": [
    {
      "target_name": "executorch_node",
      "sources": ["<!@(node scripts/list-native-sources.js)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(INTERMEDIATE_DIR)/generated"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter"],
      "libraries": ["-lXNNPACK", "-lpthreadpool", "-lpthread"],
      "actions": [
        {
          "action_name": "flatc_schemas",
          "inputs": [
            "native/schema/scalar_type.fbs",
            "native/schema/program.fbs",
            "native/schema/flat_tensor.fbs",
            "native/schema/xnnpack.fbs"
          ],
          "outputs": [
            "<(INTERMEDIATE_DIR)/generated/scalar_type_generated.h",
            "<(INTERMEDIATE_DIR)/generated/program_generated.h",
            "<(INTERMEDIATE_DIR)/generated/flat_tensor_generated.h",
            "<(INTERMEDIATE_DIR)/generated/xnnpack_generated.h"
          ],
          "action": [
            "flatc", "--cpp", "--scoped-enums", "-o", "<(INTERMEDIATE_DIR)/generated",
            "native/schema/scalar_type.fbs", "native/schema/program.fbs",
            "native/schema/flat_tensor.fbs", "native/schema/xnnpack.fbs"
          ]
        }
      ]
    }
  ]
}

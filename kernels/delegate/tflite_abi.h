// Our declarations of the parts of TensorFlow Lite's C ABI (lite/core/c/common.h) that the
// delegate uses. Written from the documented layout; the structs are append-only across TFLite
// versions, and these match TF 2.21's tf.lite and ai_edge_litert 2.3. TfLiteTensor and
// TfLiteRegistration are complete (the runtime hands us an array of the first and takes the
// second by value); TfLiteContext is declared up to the last member we use, which is safe
// because we only ever access it through the runtime's pointer.
#ifndef LCE_DELEGATE_TFLITE_ABI_H
#define LCE_DELEGATE_TFLITE_ABI_H

#include <cstddef>
#include <cstdint>

extern "C" {

typedef enum { kTfLiteOk = 0, kTfLiteError = 1, kTfLiteStatusLast = 0x7fffffff } TfLiteStatus;

typedef enum {
  kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteUInt8 = 3, kTfLiteInt64 = 4,
  kTfLiteString = 5, kTfLiteBool = 6, kTfLiteInt16 = 7, kTfLiteComplex64 = 8, kTfLiteInt8 = 9,
  // A model may carry any value (newer types, or garbage): the enum spans the whole int range so
  // that reading one is defined behaviour.
  kTfLiteTypeLast = 0x7fffffff,
} TfLiteType;

typedef enum {
  kTfLiteMemNone = 0, kTfLiteMmapRo, kTfLiteArenaRw, kTfLiteArenaRwPersistent, kTfLiteDynamic,
  kTfLitePersistentRo, kTfLiteCustom, kTfLiteVariantObject, kTfLiteAllocationTypeLast = 0x7fffffff,
} TfLiteAllocationType;

enum {
  kTfLiteBuiltinAdd = 0, kTfLiteBuiltinMul = 18, kTfLiteBuiltinRelu = 19, kTfLiteBuiltinReluN1To1 = 20,
  kTfLiteBuiltinRelu6 = 21, kTfLiteBuiltinCustom = 32, kTfLiteBuiltinDelegate = 51,
};

// builtin_data of ADD and MUL (builtin_op_data.h); the activation is a TfLiteFusedActivation:
// 0 none, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6, 4 TANH, 5 SIGN_BIT, 6 SIGMOID.
typedef struct {
  int activation;
  bool pot_scale_int16;
} TfLiteAddParams;
typedef struct {
  int activation;
} TfLiteMulParams;
enum { kTfLiteDelegateFlagsAllowDynamicTensors = 1 };

typedef struct TfLiteIntArray {
  int size;
  int data[];
} TfLiteIntArray;

typedef struct {
  float scale;
  int32_t zero_point;
} TfLiteQuantizationParams;

typedef struct TfLiteFloatArray {
  int size;
  float data[];
} TfLiteFloatArray;

enum { kTfLiteNoQuantization = 0, kTfLiteAffineQuantization = 1 };

typedef struct {
  int type;
  void *params;  // TfLiteAffineQuantization for kTfLiteAffineQuantization
} TfLiteQuantization;

typedef struct {
  TfLiteFloatArray *scale;
  TfLiteIntArray *zero_point;
  int32_t quantized_dimension;
} TfLiteAffineQuantization;

struct TfLiteDelegate;

typedef struct TfLiteTensor {
  TfLiteType type;
  void *data;  // a union of typed pointers in common.h
  TfLiteIntArray *dims;
  TfLiteQuantizationParams params;
  TfLiteAllocationType allocation_type;
  size_t bytes;
  const void *allocation;
  const char *name;
  struct TfLiteDelegate *delegate;
  int buffer_handle;
  bool data_is_stale;
  bool is_variable;
  TfLiteQuantization quantization;
  void *sparsity;
  const TfLiteIntArray *dims_signature;
} TfLiteTensor;

typedef struct TfLiteNode {
  TfLiteIntArray *inputs;
  TfLiteIntArray *outputs;
  TfLiteIntArray *intermediates;
  TfLiteIntArray *temporaries;
  void *user_data;
  void *builtin_data;
  const void *custom_initial_data;
  int custom_initial_data_size;
  struct TfLiteDelegate *delegate;
  bool might_have_side_effect;
} TfLiteNode;

struct TfLiteContext;

typedef struct TfLiteRegistration {
  void *(*init)(struct TfLiteContext *context, const char *buffer, size_t length);
  void (*free)(struct TfLiteContext *context, void *buffer);
  TfLiteStatus (*prepare)(struct TfLiteContext *context, TfLiteNode *node);
  TfLiteStatus (*invoke)(struct TfLiteContext *context, TfLiteNode *node);
  const char *(*profiling_string)(const struct TfLiteContext *context, const TfLiteNode *node);
  int32_t builtin_code;
  const char *custom_name;
  int version;
  void *registration_external;
  void *(*async_kernel)(struct TfLiteContext *context, TfLiteNode *node);
  uint64_t inplace_operator;
} TfLiteRegistration;

typedef struct TfLiteContext {
  size_t tensors_size;
  TfLiteStatus (*GetExecutionPlan)(struct TfLiteContext *context, TfLiteIntArray **execution_plan);
  TfLiteTensor *tensors;
  void *impl_;
  TfLiteStatus (*ResizeTensor)(struct TfLiteContext *, TfLiteTensor *tensor, TfLiteIntArray *new_size);
  void (*ReportError)(struct TfLiteContext *, const char *msg, ...);
  TfLiteStatus (*AddTensors)(struct TfLiteContext *, int tensors_to_add, int *first_new_tensor_index);
  TfLiteStatus (*GetNodeAndRegistration)(struct TfLiteContext *, int node_index, TfLiteNode **node,
                                         TfLiteRegistration **registration);
  TfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(struct TfLiteContext *, TfLiteRegistration registration,
                                                        const TfLiteIntArray *nodes_to_replace,
                                                        struct TfLiteDelegate *delegate);
  int recommended_num_threads;
  // ... further members are not used here.
} TfLiteContext;

typedef struct TfLiteDelegate {
  void *data_;
  TfLiteStatus (*Prepare)(TfLiteContext *context, struct TfLiteDelegate *delegate);
  TfLiteStatus (*CopyFromBufferHandle)(TfLiteContext *, struct TfLiteDelegate *, int, TfLiteTensor *);
  TfLiteStatus (*CopyToBufferHandle)(TfLiteContext *, struct TfLiteDelegate *, int, TfLiteTensor *);
  void (*FreeBufferHandle)(TfLiteContext *, struct TfLiteDelegate *, int *);
  int64_t flags;
  void *opaque_delegate_builder;
} TfLiteDelegate;

typedef struct TfLiteDelegateParams {
  TfLiteDelegate *delegate;
  TfLiteIntArray *nodes_to_replace;
  TfLiteIntArray *input_tensors;
  TfLiteIntArray *output_tensors;
} TfLiteDelegateParams;

}  // extern "C"

static_assert(sizeof(TfLiteTensor) == 112, "TfLiteTensor layout (x86-64)");
static_assert(sizeof(TfLiteRegistration) == 88, "TfLiteRegistration layout (x86-64)");

#endif  // LCE_DELEGATE_TFLITE_ABI_H

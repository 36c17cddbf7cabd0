// A whole LSTM layer (every time step) as one oneDNN RNN primitive, forward and
// backward: the TensorFlow ops OnednnLstm and OnednnLstmGrad.
//
// Layouts are TensorFlow's and Keras's: time-major inputs [time, batch, input],
// kernels [input, 4 * units] and [units, 4 * units] with gates in the order
// i, f, c, o (oneDNN's order too), bias [4 * units]. Inputs, hidden states and
// outputs are float32 or bfloat16 (mixed precision); weights, bias, cell states and
// all gradients are float32; oneDNN reorders the weights into its own packed
// layout (and precision) on every call.
//
// Built by nlp_lstm/layers/onednn/build.py against the oneDNN of the PyPI package
// onednn-cpu-gomp; nlp_lstm/layers/onednn/__init__.py loads it.

#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace {

using dnnl::memory;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;
using Tag = memory::format_tag;
using Type = memory::data_type;

dnnl::engine& Cpu() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The sizes of one call, read from its inputs.
struct Dims {
  memory::dim time, batch, input, units;
  Type type;  // of inputs, hidden states and outputs

  memory::desc Sequence(memory::dim width, Type t) const {
    return memory::desc({time, batch, width}, t, Tag::tnc);
  }
  memory::desc State(Type t) const {
    return memory::desc({1, 1, batch, units}, t, Tag::ldnc);
  }
  memory::desc Weights(memory::dim rows, Type t, Tag tag) const {
    return memory::desc({1, 1, rows, 4, units}, t, tag);
  }
  memory::desc Bias() const { return memory::desc({1, 1, 4, units}, Type::f32, Tag::ldgo); }
};

Dims ReadDims(OpKernelContext* context) {
  const Tensor& x = context->input(0);
  const Tensor& recurrent_kernel = context->input(4);
  return Dims{x.dim_size(0), x.dim_size(1), x.dim_size(2), recurrent_kernel.dim_size(0),
              x.dtype() == tensorflow::DT_BFLOAT16 ? Type::bf16 : Type::f32};
}

dnnl::lstm_forward::primitive_desc ForwardDesc(const Dims& d) {
  return dnnl::lstm_forward::primitive_desc(
      Cpu(), dnnl::prop_kind::forward_training,
      dnnl::rnn_direction::unidirectional_left2right, d.Sequence(d.input, d.type),
      d.State(d.type), d.State(Type::f32), d.Weights(d.input, d.type, Tag::any),
      d.Weights(d.units, d.type, Tag::any), d.Bias(), d.Sequence(d.units, d.type),
      d.State(d.type), d.State(Type::f32));
}

// A oneDNN view of a TensorFlow tensor's buffer.
memory View(const memory::desc& desc, const Tensor& tensor) {
  return memory(desc, Cpu(), const_cast<char*>(tensor.tensor_data().data()));
}

// `source` (a TensorFlow tensor in `layout`) in the layout the primitive wants.
memory Packed(dnnl::stream& stream, const memory::desc& wanted, const memory::desc& layout,
              const Tensor& source) {
  memory user = View(layout, source);
  if (wanted == layout) return user;
  memory packed(wanted, Cpu());
  dnnl::reorder(user, packed).execute(stream, user, packed);
  return packed;
}

// The arguments both primitives read: the layer's inputs, initial states and weights
// (inputs 0 to 5 of either op).
template <typename Desc>
std::unordered_map<int, memory> LayerArgs(const Desc& pd, const Dims& d, dnnl::stream& stream,
                                          OpKernelContext* context) {
  return {{DNNL_ARG_SRC_LAYER, View(pd.src_layer_desc(), context->input(0))},
          {DNNL_ARG_SRC_ITER, View(pd.src_iter_desc(), context->input(1))},
          {DNNL_ARG_SRC_ITER_C, View(pd.src_iter_c_desc(), context->input(2))},
          {DNNL_ARG_WEIGHTS_LAYER, Packed(stream, pd.weights_layer_desc(),
                                          d.Weights(d.input, Type::f32, Tag::ldigo),
                                          context->input(3))},
          {DNNL_ARG_WEIGHTS_ITER, Packed(stream, pd.weights_iter_desc(),
                                         d.Weights(d.units, Type::f32, Tag::ldigo),
                                         context->input(4))},
          {DNNL_ARG_BIAS, View(pd.bias_desc(), context->input(5))}};
}

// Runs `body`, turning a oneDNN error into a TensorFlow one.
template <typename Body>
void Guarded(OpKernelContext* context, Body body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    context->SetStatus(tensorflow::errors::Internal("oneDNN LSTM: ", e.what()));
  }
}

class OnednnLstmOp : public OpKernel {
 public:
  explicit OnednnLstmOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    Guarded(context, [&] {
      const Dims d = ReadDims(context);
      auto pd = ForwardDesc(d);
      dnnl::stream stream(Cpu());
      Tensor *h, *h_last, *c_last, *workspace;
      OP_REQUIRES_OK(context, context->allocate_output(
                                  0, TensorShape({d.time, d.batch, d.units}), &h));
      OP_REQUIRES_OK(context,
                     context->allocate_output(1, TensorShape({d.batch, d.units}), &h_last));
      OP_REQUIRES_OK(context,
                     context->allocate_output(2, TensorShape({d.batch, d.units}), &c_last));
      OP_REQUIRES_OK(context, context->allocate_output(
                                  3,
                                  TensorShape({static_cast<int64_t>(
                                      pd.workspace_desc().get_size())}),
                                  &workspace));
      auto args = LayerArgs(pd, d, stream, context);
      args.insert({{DNNL_ARG_DST_LAYER, View(pd.dst_layer_desc(), *h)},
                   {DNNL_ARG_DST_ITER, View(pd.dst_iter_desc(), *h_last)},
                   {DNNL_ARG_DST_ITER_C, View(pd.dst_iter_c_desc(), *c_last)},
                   {DNNL_ARG_WORKSPACE, View(pd.workspace_desc(), *workspace)}});
      dnnl::lstm_forward(pd).execute(stream, args);
      stream.wait();
    });
  }
};

class OnednnLstmGradOp : public OpKernel {
 public:
  explicit OnednnLstmGradOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    Guarded(context, [&] {
      const Dims d = ReadDims(context);
      auto forward = ForwardDesc(d);
      const memory::desc wide_layout = d.Weights(d.input, Type::f32, Tag::ldigo);
      const memory::desc deep_layout = d.Weights(d.units, Type::f32, Tag::ldigo);
      dnnl::lstm_backward::primitive_desc pd(
          Cpu(), dnnl::prop_kind::backward, dnnl::rnn_direction::unidirectional_left2right,
          d.Sequence(d.input, d.type), d.State(d.type), d.State(Type::f32),
          d.Weights(d.input, d.type, Tag::any), d.Weights(d.units, d.type, Tag::any),
          d.Bias(), d.Sequence(d.units, d.type), d.State(d.type), d.State(Type::f32),
          // oneDNN's bfloat16 backward takes and gives every gradient in float32.
          d.Sequence(d.input, Type::f32), d.State(Type::f32), d.State(Type::f32),
          d.Weights(d.input, Type::f32, Tag::any), d.Weights(d.units, Type::f32, Tag::any),
          d.Bias(), d.Sequence(d.units, Type::f32), d.State(Type::f32), d.State(Type::f32),
          forward);
      dnnl::stream stream(Cpu());

      Tensor *dx, *dh0, *dc0, *dkernel, *drecurrent, *dbias;
      for (int i = 0; i < 6; ++i) {
        Tensor** out[] = {&dx, &dh0, &dc0, &dkernel, &drecurrent, &dbias};
        OP_REQUIRES_OK(context,
                       context->allocate_output(i, context->input(i).shape(), out[i]));
      }
      // oneDNN adds the weights' gradients to what its buffers hold.
      memory d_wide(pd.diff_weights_layer_desc(), Cpu());
      memory d_deep(pd.diff_weights_iter_desc(), Cpu());
      std::memset(d_wide.get_data_handle(), 0, pd.diff_weights_layer_desc().get_size());
      std::memset(d_deep.get_data_handle(), 0, pd.diff_weights_iter_desc().get_size());
      std::memset(const_cast<char*>(dbias->tensor_data().data()), 0,
                  dbias->tensor_data().size());

      auto args = LayerArgs(pd, d, stream, context);
      args.insert(
          {{DNNL_ARG_DST_LAYER, View(pd.dst_layer_desc(), context->input(6))},
           {DNNL_ARG_DST_ITER, View(pd.dst_iter_desc(), context->input(7))},
           {DNNL_ARG_DST_ITER_C, View(pd.dst_iter_c_desc(), context->input(8))},
           {DNNL_ARG_WORKSPACE, View(pd.workspace_desc(), context->input(9))},
           {DNNL_ARG_DIFF_DST_LAYER, View(pd.diff_dst_layer_desc(), context->input(10))},
           {DNNL_ARG_DIFF_DST_ITER, View(pd.diff_dst_iter_desc(), context->input(11))},
           {DNNL_ARG_DIFF_DST_ITER_C, View(pd.diff_dst_iter_c_desc(), context->input(12))},
           {DNNL_ARG_DIFF_SRC_LAYER, View(pd.diff_src_layer_desc(), *dx)},
           {DNNL_ARG_DIFF_SRC_ITER, View(pd.diff_src_iter_desc(), *dh0)},
           {DNNL_ARG_DIFF_SRC_ITER_C, View(pd.diff_src_iter_c_desc(), *dc0)},
           {DNNL_ARG_DIFF_WEIGHTS_LAYER, d_wide},
           {DNNL_ARG_DIFF_WEIGHTS_ITER, d_deep},
           {DNNL_ARG_DIFF_BIAS, View(pd.diff_bias_desc(), *dbias)}});
      dnnl::lstm_backward(pd).execute(stream, args);
      // The weights' gradients, back in TensorFlow's layout.
      memory wide_out = View(wide_layout, *dkernel), deep_out = View(deep_layout, *drecurrent);
      dnnl::reorder(d_wide, wide_out).execute(stream, d_wide, wide_out);
      dnnl::reorder(d_deep, deep_out).execute(stream, d_deep, deep_out);
      stream.wait();
    });
  }
};

tensorflow::Status ForwardShapes(InferenceContext* c) {
  ShapeHandle x, recurrent_kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &x));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 2, &recurrent_kernel));
  auto units = c->Dim(recurrent_kernel, 0);
  c->set_output(0, c->MakeShape({c->Dim(x, 0), c->Dim(x, 1), units}));
  c->set_output(1, c->MakeShape({c->Dim(x, 1), units}));
  c->set_output(2, c->MakeShape({c->Dim(x, 1), units}));
  c->set_output(3, c->Vector(InferenceContext::kUnknownDim));
  return tensorflow::OkStatus();
}

tensorflow::Status GradShapes(InferenceContext* c) {
  for (int i = 0; i < 6; ++i) c->set_output(i, c->input(i));
  return tensorflow::OkStatus();
}

}  // namespace

REGISTER_OP("OnednnLstm")
    .Attr("T: {float, bfloat16}")
    .Input("x: T")
    .Input("h0: T")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Output("h: T")
    .Output("h_last: T")
    .Output("c_last: float")
    .Output("workspace: uint8")
    .SetShapeFn(ForwardShapes);

REGISTER_OP("OnednnLstmGrad")
    .Attr("T: {float, bfloat16}")
    .Input("x: T")
    .Input("h0: T")
    .Input("c0: float")
    .Input("kernel: float")
    .Input("recurrent_kernel: float")
    .Input("bias: float")
    .Input("h: T")
    .Input("h_last: T")
    .Input("c_last: float")
    .Input("workspace: uint8")
    .Input("d_h: float")
    .Input("d_h_last: float")
    .Input("d_c_last: float")
    .Output("dx: float")
    .Output("dh0: float")
    .Output("dc0: float")
    .Output("dkernel: float")
    .Output("drecurrent_kernel: float")
    .Output("dbias: float")
    .SetShapeFn(GradShapes);

REGISTER_KERNEL_BUILDER(
    Name("OnednnLstm").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    OnednnLstmOp);
REGISTER_KERNEL_BUILDER(Name("OnednnLstm")
                            .Device(tensorflow::DEVICE_CPU)
                            .TypeConstraint<tensorflow::bfloat16>("T"),
                        OnednnLstmOp);
REGISTER_KERNEL_BUILDER(
    Name("OnednnLstmGrad").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    OnednnLstmGradOp);
REGISTER_KERNEL_BUILDER(Name("OnednnLstmGrad")
                            .Device(tensorflow::DEVICE_CPU)
                            .TypeConstraint<tensorflow::bfloat16>("T"),
                        OnednnLstmGradOp);

#include "export_bindings.h"

#include <cmath>
#include <string>

#include "../export/pack_int4.h"
#include "../export/quantize_symmetric.h"
#include "../export/thread_pool.h"
#include "js_errors.h"
#include "promise_worker.h"

namespace etn::addon {

namespace {

size_t sizeArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  const Napi::Value v = info[i];
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d))
    throw makeJsError(info.Env(), "InvalidArgument", std::string(fn) + ": " + name + " must be a non-negative integer");
  return static_cast<size_t>(d);
}

int intArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const Napi::Value v = info[i];
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= -128 && d <= 127 && std::floor(d) == d))
    throw makeJsError(info.Env(), "InvalidArgument", std::string("quantizeSymmetric: ") + name + " must be an integer in [-128, 127]");
  return static_cast<int>(d);
}

// The weights stay referenced (and must stay unmodified) until the Promise settles;
// the outputs are allocated here, on the JS thread, and filled on the worker.
class QuantizeSymmetricWorker : public PromiseWorker {
 public:
  QuantizeSymmetricWorker(Napi::Env env, Napi::Float32Array w, const exporter::SymmetricQuantizationShape& shape)
      : PromiseWorker(env), shape_(shape) {
    const size_t elements = shape.rows * shape.cols;
    const size_t groups = shape.groupSize ? elements / shape.groupSize : 0;
    weights_ = Napi::Persistent(w);
    w_ = w.Data();
    Napi::ArrayBuffer qBuf = Napi::ArrayBuffer::New(env, elements);
    Napi::ArrayBuffer sBuf = Napi::ArrayBuffer::New(env, groups * sizeof(float));
    q_ = static_cast<int8_t*>(qBuf.Data());
    scales_ = static_cast<float*>(sBuf.Data());
    qBuf_ = Napi::Persistent(qBuf);
    scalesBuf_ = Napi::Persistent(sBuf);
    groups_ = groups;
  }

 protected:
  void Run() override { exporter::quantizeSymmetric(w_, shape_, q_, scales_, exporter::exportThreadPool()); }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("q", Napi::Int8Array::New(env, shape_.rows * shape_.cols, qBuf_.Value(), 0));
    out.Set("scales", Napi::Float32Array::New(env, groups_, scalesBuf_.Value(), 0));
    return out;
  }

 private:
  exporter::SymmetricQuantizationShape shape_;
  Napi::Reference<Napi::Float32Array> weights_;
  Napi::Reference<Napi::ArrayBuffer> qBuf_;
  Napi::Reference<Napi::ArrayBuffer> scalesBuf_;
  const float* w_ = nullptr;
  int8_t* q_ = nullptr;
  float* scales_ = nullptr;
  size_t groups_ = 0;
};

// quantizeSymmetric(w: Float32Array, rows, cols, groupSize, qmin, qmax)
//   -> Promise<{ q: Int8Array, scales: Float32Array }>
Napi::Value QuantizeSymmetric(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 6 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw makeJsError(env, "InvalidArgument", "quantizeSymmetric(w: Float32Array, rows, cols, groupSize, qmin, qmax)");
    Napi::Float32Array w = info[0].As<Napi::Float32Array>();
    exporter::SymmetricQuantizationShape shape;
    shape.rows = sizeArg(info, 1, "quantizeSymmetric", "rows");
    shape.cols = sizeArg(info, 2, "quantizeSymmetric", "cols");
    shape.groupSize = sizeArg(info, 3, "quantizeSymmetric", "groupSize");
    shape.qmin = intArg(info, 4, "qmin");
    shape.qmax = intArg(info, 5, "qmax");
    exporter::checkSymmetricQuantizationShape(shape);
    if (w.ElementLength() != shape.rows * shape.cols)
      throw makeJsError(env, "InvalidArgument", "quantizeSymmetric: " + std::to_string(w.ElementLength()) + " weights for [" +
                                                    std::to_string(shape.rows) + ", " + std::to_string(shape.cols) + "]");
    auto* worker = new QuantizeSymmetricWorker(env, w, shape);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

class PackInt4Worker : public PromiseWorker {
 public:
  PackInt4Worker(Napi::Env env, Napi::Int8Array q, size_t rows, size_t cols, exporter::Int4Order order)
      : PromiseWorker(env), rows_(rows), cols_(cols), order_(order) {
    codes_ = Napi::Persistent(q);
    q_ = q.Data();
    size_ = exporter::packedInt4Size(rows, cols, order);
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, size_);
    out_ = static_cast<uint8_t*>(buf.Data());
    outBuf_ = Napi::Persistent(buf);
  }

 protected:
  void Run() override { exporter::packInt4(q_, rows_, cols_, order_, out_); }
  Napi::Value Result(Napi::Env env) override { return Napi::Uint8Array::New(env, size_, outBuf_.Value(), 0); }

 private:
  size_t rows_, cols_;
  exporter::Int4Order order_;
  Napi::Reference<Napi::Int8Array> codes_;
  Napi::Reference<Napi::ArrayBuffer> outBuf_;
  const int8_t* q_ = nullptr;
  uint8_t* out_ = nullptr;
  size_t size_ = 0;
};

// packInt4(q: Int8Array, rows, cols, highFirst: boolean) -> Promise<Uint8Array>
Napi::Value PackInt4(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (info.Length() < 4 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int8_array ||
        !info[3].IsBoolean())
      throw makeJsError(env, "InvalidArgument", "packInt4(q: Int8Array, rows, cols, highFirst: boolean)");
    Napi::Int8Array q = info[0].As<Napi::Int8Array>();
    const size_t rows = sizeArg(info, 1, "packInt4", "rows");
    const size_t cols = sizeArg(info, 2, "packInt4", "cols");
    const auto order = info[3].As<Napi::Boolean>().Value() ? exporter::Int4Order::HighFirst : exporter::Int4Order::LowFirst;
    if (cols != 0 && rows > q.ElementLength() / cols) throw makeJsError(env, "InvalidArgument", "packInt4: too few codes");
    if (q.ElementLength() != rows * cols)
      throw makeJsError(env, "InvalidArgument", "packInt4: " + std::to_string(q.ElementLength()) + " codes for [" + std::to_string(rows) +
                                                    ", " + std::to_string(cols) + "]");
    if (order == exporter::Int4Order::HighFirst && cols % 2 != 0)
      throw makeJsError(env, "NotSupported", "packInt4: int4 rows of " + std::to_string(cols) + " values: two per byte needs an even count");
    auto* worker = new PackInt4Worker(env, q, rows, cols, order);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

}  // namespace

void registerExportBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeSymmetric", Napi::Function::New(env, &QuantizeSymmetric, "quantizeSymmetric"));
  exports.Set("packInt4", Napi::Function::New(env, &PackInt4, "packInt4"));
}

}  // namespace etn::addon

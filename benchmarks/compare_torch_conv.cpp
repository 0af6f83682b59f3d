// salient Conv1D vs torch::nn::Conv1d, side by side in one process.
//
//   ./compare_torch_conv [--json PATH] [--seconds S] [--quick] [--wall]
//
// Same weights, bias and input for both (float, full-length sequences, 'same' zero padding);
// each library gets its own native layout, prepared outside the timed region: salient (T, B, C)
// time-major, libtorch (B, C, T). One thread each (torch::set_num_threads(1) and
// openblas_set_num_threads(1)). Calls alternate — one salient, one libtorch — after a warm-up,
// until each has had about S seconds (default 0.6) per case; medians are reported.
//   inference: forward only (libtorch under NoGradGuard)
//   training : forward + backward for a given dy, producing the weight, bias AND input
//              gradients (libtorch: input with requires_grad, out.backward(dy))
// Times are the calling thread's CPU time (--wall: wall-clock). ratio = torch / salient
// (> 1: salient is faster). GFLOP/s counts salient's multiply-adds × 2 (training = 3× forward).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <salient/layers/conv1d.hpp>

#ifdef SALIENT_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

using namespace salient;

struct Case {
  Index in, out, k, dilation, T, B;
};
struct Result {
  std::string name;
  double salient_us, torch_us, gflops, max_diff;
};

bool g_wall = false;

double cpu_now_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) * 1e-3;
}
template <class Fn>
double timed_us(Fn&& fn) {
  if (g_wall) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  }
  const double t0 = cpu_now_us();
  fn();
  return cpu_now_us() - t0;
}
double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Result compare(const Case& c, bool training, double seconds) {
  // ---- salient ----
  using C = Conv1D<Dynamic, Dynamic, Dynamic, float>;
  C conv(c.in, c.out, c.k, {1, c.dilation, Padding::Same, true});
  Vector<float> params(conv.num_params()), grads(conv.num_params());
  params.setZero();
  grads.setZero();
  conv.bind(params.data(), grads.data());
  Rng rng(11);
  conv.init(rng);
  for (Index i = 0; i < conv.bias().size(); ++i) conv.bias()[i] = float(rng.uniform(-0.1, 0.1));
  SeqBatch<float> x(c.T, c.B, c.in), y;
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = float(rng.uniform(-1, 1));
  Tensor3<float> dy(c.T, c.B, c.out), dx(c.T, c.B, c.in);
  for (Index i = 0; i < dy.size(); ++i) dy.data()[i] = float(rng.uniform(-1, 1));
  dx.setZero();

  // ---- libtorch: same numbers, (B, C, T) layout ----
  const Index pad = c.dilation * (c.k - 1) / 2;  // odd kernels: symmetric 'same'
  torch::nn::Conv1d tconv(torch::nn::Conv1dOptions(c.in, c.out, c.k).padding(pad).dilation(c.dilation).bias(true));
  {
    torch::NoGradGuard ng;
    std::memcpy(tconv->weight.data_ptr<float>(), params.data(), sizeof(float) * c.out * c.in * c.k);
    std::memcpy(tconv->bias.data_ptr<float>(), conv.bias().data(), sizeof(float) * c.out);
  }
  torch::Tensor tx = torch::from_blob(x.values.data(), {c.T, c.B, c.in}, torch::kFloat32)
                         .permute({1, 2, 0})
                         .contiguous()
                         .set_requires_grad(true);
  torch::Tensor tdy = torch::from_blob(dy.data(), {c.T, c.B, c.out}, torch::kFloat32).permute({1, 2, 0}).contiguous();

  auto run_salient = [&] {
    if (training) {
      conv.forward(x, y, Mode::Training);
      conv.backward(x, y, dy, &dx);
    } else {
      conv.forward(x, y, Mode::Inference);
    }
  };
  torch::Tensor tout;
  auto run_torch = [&] {
    if (training) {
      tout = tconv->forward(tx);
      tout.backward(tdy);
    } else {
      torch::NoGradGuard ng;
      tout = tconv->forward(tx);
    }
  };

  for (int w = 0; w < 3; ++w) {
    run_salient();
    run_torch();
  }
  // Same result? (forward output)
  double max_diff = 0;
  {
    conv.forward(x, y, Mode::Inference);
    torch::NoGradGuard ng;
    torch::Tensor ref = tconv->forward(tx).permute({2, 0, 1}).contiguous();  // (T, B, Out)
    const float* r = ref.data_ptr<float>();
    for (Index i = 0; i < y.values.size(); ++i)
      max_diff = std::max(max_diff, double(std::abs(y.values.data()[i] - r[i])));
  }
  std::vector<double> ts, tt;
  double spent_s = 0, spent_t = 0;
  while ((spent_s < seconds || spent_t < seconds || ts.size() < 7) && ts.size() < 5000) {
    ts.push_back(timed_us(run_salient));
    tt.push_back(timed_us(run_torch));
    spent_s += ts.back() * 1e-6;
    spent_t += tt.back() * 1e-6;
  }
  const double ms = median_of(ts), mt = median_of(tt);
  const double flops = (training ? 3.0 : 1.0) * 2.0 * double(c.T * c.B * c.out * c.in * c.k);
  char name[112];
  std::snprintf(name, sizeof name, "%s %ld->%ld k=%ld d=%ld T=%ld B=%ld", training ? "train" : "infer", long(c.in),
                long(c.out), long(c.k), long(c.dilation), long(c.T), long(c.B));
  return {name, ms, mt, flops / (ms * 1e3), max_diff};
}

}  // namespace

int main(int argc, char** argv) {
  std::string json;
  double seconds = 0.6;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--wall")) g_wall = true;
    else {
      std::fprintf(stderr, "usage: %s [--json PATH] [--seconds S] [--quick] [--wall]\n", argv[0]);
      return 2;
    }
  }
  torch::set_num_threads(1);
#ifdef SALIENT_HAVE_OPENBLAS
  openblas_set_num_threads(1);
#endif
#ifdef EIGEN_USE_BLAS
  const char* gemm = "OpenBLAS via EIGEN_USE_BLAS";
#else
  const char* gemm = "Eigen";
#endif
  std::printf("salient Conv1D (GEMM: %s) vs libtorch %s Conv1d, float, 'same' padding, 1 thread each, "
              "medians of %s time\n",
              gemm, TORCH_VERSION, g_wall ? "wall" : "thread CPU");
  std::vector<Case> cases = {{8, 64, 5, 1, 256, 32},   // the reference shape
                             {3, 32, 7, 1, 128, 16},
                             {64, 64, 3, 1, 256, 32},
                             {64, 128, 5, 2, 128, 32},
                             {8, 64, 5, 1, 256, 1}};
  if (quick) cases.resize(1);
  std::vector<Result> rows;
  std::printf("%-36s %11s %11s %8s %9s %10s\n", "case", "salient ms", "torch ms", "ratio", "GFLOP/s", "max|diff|");
  for (bool training : {false, true})
    for (const Case& c : cases) {
      rows.push_back(compare(c, training, seconds));
      const Result& r = rows.back();
      std::printf("%-36s %11.3f %11.3f %7.2fx %9.1f %10.1e\n", r.name.c_str(), r.salient_us * 1e-3,
                  r.torch_us * 1e-3, r.torch_us / r.salient_us, r.gflops, r.max_diff);
      std::fflush(stdout);
    }
  if (!json.empty()) {
    std::ofstream out(json);
    out << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Result& r = rows[i];
      out << "  {\"case\": \"" << r.name << "\", \"salient_us\": " << r.salient_us << ", \"torch_us\": " << r.torch_us
          << ", \"ratio\": " << r.torch_us / r.salient_us << ", \"salient_gflops\": " << r.gflops
          << ", \"max_abs_diff\": " << r.max_diff << "}" << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    out << "]\n";
    std::printf("wrote %s\n", json.c_str());
  }
  return 0;
}

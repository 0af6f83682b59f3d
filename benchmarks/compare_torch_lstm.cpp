// salient LSTM vs torch::nn::LSTM, side by side in one process.
//
//   ./compare_torch_lstm [--json PATH] [--seconds S] [--quick] [--wall]
//
// Both get the same weights and inputs (F = 8, full-length sequences, float), one thread each
// (torch::set_num_threads(1) and openblas_set_num_threads(1)), and run alternately: one timed
// call of salient, one of libtorch, repeated until each has had about S seconds (default 0.6
// per case) after a warm-up. Reported: medians. Inference: forward to the last hidden state
// (libtorch under NoGradGuard). Training: forward + backward of sum(h_T ⊙ dy) into the
// parameter gradients (no input gradient, as in a training step; optimizer not included).
// Times are the calling thread's CPU time (--wall: wall-clock time instead).
// ratio = torch / salient (> 1: salient is faster).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <salient/layers/lstm.hpp>

#ifdef SALIENT_HAVE_OPENBLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

using namespace salient;
using Clock = std::chrono::steady_clock;
constexpr Index F = 8;

struct Row {
  std::string name;
  double salient_us, torch_us, gflops, max_diff;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// CPU time of the calling thread: both libraries run single-threaded in this thread, and the
// project machines are shared, so wall time would also count other processes' time slices.
double thread_cpu_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) * 1e-3;
}
bool g_wall = false;
template <class Fn>
double time_us(Fn&& fn) {
  if (g_wall) {
    const auto t0 = Clock::now();
    fn();
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }
  const double t0 = thread_cpu_us();
  fn();
  return thread_cpu_us() - t0;
}

Row run_case(Index H, Index T, Index B, bool training, double seconds) {
  // salient
  LSTM<F, Dynamic, LastState, float> layer(F, H);
  Vector<float> p(layer.num_params()), g(layer.num_params());
  p.setZero();
  g.setZero();
  layer.bind(p.data(), g.data());
  Rng rng(7);
  layer.init(rng);
  SeqBatch<float> x(T, B, F);
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = float(rng.uniform(-1, 1));
  RowMatrix<float> y, dy = RowMatrix<float>::Constant(B, H, 0.01f);

  // libtorch, same weights (bias_hh = 0, bias_ih = salient's bias)
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(F, H));
  {
    torch::NoGradGuard ng;
    auto params = lstm->named_parameters();
    std::memcpy(params["weight_ih_l0"].data_ptr<float>(), layer.weight_ih().data(), sizeof(float) * 4 * H * F);
    std::memcpy(params["weight_hh_l0"].data_ptr<float>(), layer.weight_hh().data(), sizeof(float) * 4 * H * H);
    std::memcpy(params["bias_ih_l0"].data_ptr<float>(), layer.bias().data(), sizeof(float) * 4 * H);
    params["bias_hh_l0"].zero_();
  }
  torch::Tensor tx = torch::from_blob(x.values.data(), {T, B, F}, torch::kFloat32).clone();
  torch::Tensor tdy = torch::full({B, H}, 0.01f);

  auto run_salient = [&] {
    if (training) {
      layer.forward(x, y, Mode::Training);
      layer.backward(x, y, dy, nullptr);
    } else {
      layer.forward(x, y, Mode::Inference);
    }
  };
  torch::Tensor th;
  auto run_torch = [&] {
    if (training) {
      auto out = lstm->forward(tx);
      th = std::get<0>(std::get<1>(out))[0];
      (th * tdy).sum().backward();
    } else {
      torch::NoGradGuard ng;
      auto out = lstm->forward(tx);
      th = std::get<0>(std::get<1>(out))[0];
    }
  };

  for (int w = 0; w < 3; ++w) {
    run_salient();
    run_torch();
  }
  // Same numbers? (last hidden state)
  double max_diff = 0;
  {
    layer.forward(x, y, Mode::Inference);
    torch::NoGradGuard ng;
    auto ref = std::get<0>(std::get<1>(lstm->forward(tx)))[0].contiguous();
    const float* r = ref.data_ptr<float>();
    for (Index i = 0; i < y.size(); ++i) max_diff = std::max(max_diff, double(std::abs(y.data()[i] - r[i])));
  }
  std::vector<double> ts, tt;
  double spent_s = 0, spent_t = 0;
  while ((spent_s < seconds || spent_t < seconds || ts.size() < 7) && ts.size() < 5000) {
    ts.push_back(time_us(run_salient));
    tt.push_back(time_us(run_torch));
    spent_s += ts.back() * 1e-6;
    spent_t += tt.back() * 1e-6;
  }
  const double ms = median(ts), mt = median(tt);
  const double flops = (training ? 3.0 : 1.0) * 2.0 * double(T * B * 4 * H * (F + H));
  char name[96];
  std::snprintf(name, sizeof name, "%s H=%ld T=%ld B=%ld", training ? "train" : "infer", long(H), long(T), long(B));
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
  std::printf("salient LSTM (GEMM: %s) vs libtorch %s, F=8, float, 1 thread each, medians of %s time\n",
              gemm, TORCH_VERSION, g_wall ? "wall" : "thread CPU");
  struct Shape3 {
    Index H, T, B;
  };
  std::vector<Shape3> shapes = {{64, 64, 1},  {64, 64, 32},  {64, 64, 64},   {64, 256, 32},
                                {128, 64, 1}, {128, 64, 32}, {128, 256, 1}, {128, 256, 64}};
  if (quick) shapes = {{64, 64, 1}, {64, 64, 32}, {128, 256, 64}};
  std::vector<Row> rows;
  std::printf("%-26s %12s %12s %8s %10s %10s\n", "case", "salient ms", "torch ms", "ratio", "GFLOP/s", "max|diff|");
  for (bool training : {false, true})
    for (const auto& s : shapes) {
      rows.push_back(run_case(s.H, s.T, s.B, training, seconds));
      const Row& r = rows.back();
      std::printf("%-26s %12.3f %12.3f %7.1fx %10.1f %10.1e\n", r.name.c_str(), r.salient_us * 1e-3,
                  r.torch_us * 1e-3, r.torch_us / r.salient_us, r.gflops, r.max_diff);
      std::fflush(stdout);
    }
  if (!json.empty()) {
    std::ofstream out(json);
    out << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << "  {\"case\": \"" << r.name << "\", \"salient_us\": " << r.salient_us << ", \"torch_us\": " << r.torch_us
          << ", \"ratio\": " << r.torch_us / r.salient_us << ", \"salient_gflops\": " << r.gflops << "}"
          << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    out << "]\n";
    std::printf("wrote %s\n", json.c_str());
  }
  return 0;
}

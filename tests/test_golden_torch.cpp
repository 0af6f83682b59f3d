// Golden tests against PyTorch: tests/fixtures/*.txt are written by tools/make_fixtures.py
// (torch.nn.LSTM / torch.nn.GRU in float64 on packed uneven-length batches). Outputs, input
// gradients and every parameter gradient must agree: 1e-5 in float, 1e-8 in double.
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <salient/layers/bidirectional.hpp>
#include <salient/layers/gru.hpp>
#include <salient/layers/lstm.hpp>

#include "gradcheck.hpp"

using namespace salient;

namespace {

struct Fixture {
  std::string file;
  std::map<std::string, std::string> meta;
  std::map<std::string, std::vector<double>> tensors;

  Index num(const std::string& key) const { return std::stol(meta.at(key)); }
  const std::vector<double>& operator[](const std::string& name) const {
    const auto it = tensors.find(name);
    if (it == tensors.end()) FAIL(file << ": no tensor '" << name << "'");
    return it->second;
  }
  Lengths lengths() const {
    std::istringstream is(meta.at("lengths"));
    Lengths l;
    for (Index v; is >> v;) l.push_back(v);
    return l;
  }
};

Fixture load(const std::string& name) {
  Fixture f;
  f.file = std::string(SALIENT_FIXTURE_DIR) + "/" + name;
  std::ifstream in(f.file);
  REQUIRE_MESSAGE(in.good(), "cannot open " << f.file);
  const std::vector<std::string> meta_keys = {"kind", "output", "bidirectional", "in", "hidden",
                                              "steps", "batch", "lengths"};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    std::string key;
    is >> key;
    if (std::find(meta_keys.begin(), meta_keys.end(), key) != meta_keys.end()) {
      std::string rest;
      std::getline(is >> std::ws, rest);
      f.meta[key] = rest;
      continue;
    }
    std::size_t count = 0;
    is >> count;
    std::vector<double> v(count);
    for (auto& e : v) is >> e;
    REQUIRE_MESSAGE(!is.fail(), f.file << ": tensor " << key << " is short");
    f.tensors[key] = std::move(v);
  }
  return f;
}

/// One block of the flat parameter buffer: the sum of these PyTorch tensors.
using Block = std::vector<std::string>;

template <class S>
void compare(const Fixture& f, const std::string& what, const S* got, const std::vector<double>& want, double tol) {
  int bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    if (!(std::abs(double(got[i]) - want[i]) <= tol * std::max(1.0, std::abs(want[i]))) && bad++ < 5)
      FAIL_CHECK(f.file << ": " << what << "[" << i << "] = " << std::setprecision(10) << double(got[i]) << ", PyTorch " << want[i]);
  CHECK_MESSAGE(bad == 0, f.file << ": " << what);
}

/// Load weights into `layer`, run forward + backward, compare with PyTorch.
template <class Layer>
void run_golden(const std::string& name, Layer layer, const std::vector<Block>& layout, double tol) {
  using S = typename Layer::scalar_type;
  const Fixture f = load(name);
  const Index T = f.num("steps"), B = f.num("batch"), In = f.num("in");
  Vector<S> params(layer.num_params()), grads(layer.num_params());
  params.setZero();
  grads.setZero();
  layer.bind(params.data(), grads.data());
  Index off = 0;
  for (const Block& blk : layout) {
    const Index n = Index(f[blk[0]].size());
    for (Index i = 0; i < n; ++i) {
      double v = 0;
      for (const auto& t : blk) v += f[t][std::size_t(i)];
      params[off + i] = S(v);
    }
    off += n;
  }
  REQUIRE(off == layer.num_params());

  SeqBatch<S> x(T, B, In);
  x.lengths = f.lengths();
  const auto& xv = f["x"];
  REQUIRE(Index(xv.size()) == x.values.size());
  for (Index i = 0; i < x.values.size(); ++i) x.values.data()[i] = S(xv[std::size_t(i)]);
  typename Layer::Output y;
  layer.forward(x, y, Mode::Training);

  const auto& dyv = f["dy"];
  typename Layer::OutputGrad dy;
  if constexpr (Layer::output_shape == Shape::Vector) {
    dy.resize(y.rows(), y.cols());
  } else {
    dy.resize(y.values.dimension(0), y.values.dimension(1), y.values.dimension(2));
  }
  REQUIRE(Index(dyv.size()) == dy.size());
  for (Index i = 0; i < dy.size(); ++i) dy.data()[i] = S(dyv[std::size_t(i)]);
  Tensor3<S> dx(T, B, In);
  dx.setZero();
  layer.backward(x, y, dy, &dx);

  if constexpr (Layer::output_shape == Shape::Vector) {
    REQUIRE(Index(f["y"].size()) == y.size());
    compare(f, "y", y.data(), f["y"], tol);
  } else {
    REQUIRE(Index(f["y"].size()) == y.values.size());
    compare(f, "y", y.values.data(), f["y"], tol);
  }
  compare(f, "grad.x", dx.data(), f["grad.x"], tol);
  off = 0;
  for (const Block& blk : layout) {
    compare(f, "grad." + blk[0], grads.data() + off, f["grad." + blk[0]], tol);
    for (const auto& t : blk)  // summed biases: PyTorch's gradients of each are equal
      compare(f, "grad." + t, grads.data() + off, f["grad." + t], tol);
    off += Index(f[blk[0]].size());
  }
}

const std::vector<Block> lstm_layout = {{"weight_ih_l0"}, {"weight_hh_l0"}, {"bias_ih_l0", "bias_hh_l0"}};
const std::vector<Block> bilstm_layout = {{"weight_ih_l0"},         {"weight_hh_l0"},
                                          {"bias_ih_l0", "bias_hh_l0"}, {"weight_ih_l0_reverse"},
                                          {"weight_hh_l0_reverse"}, {"bias_ih_l0_reverse", "bias_hh_l0_reverse"}};
const std::vector<Block> gru_layout = {{"weight_ih_l0"}, {"weight_hh_l0"}, {"bias_ih_l0"}, {"bias_hh_l0"}};
const std::vector<Block> bigru_layout = {{"weight_ih_l0"},         {"weight_hh_l0"},         {"bias_ih_l0"},
                                         {"bias_hh_l0"},           {"weight_ih_l0_reverse"}, {"weight_hh_l0_reverse"},
                                         {"bias_ih_l0_reverse"}, {"bias_hh_l0_reverse"}};

// double: torch's own float64 LSTM backward differs from an exact per-step evaluation by up
// to ~2e-9 in the cell-candidate gradients (checked against a hand-written autograd loop).
template <class S>
double tol() { return std::is_same_v<S, float> ? 1e-5 : 1e-8; }

}  // namespace

TEST_CASE_TEMPLATE("Golden: LSTM agrees with torch.nn.LSTM", S, float, double) {
  run_golden("lstm_last.txt", LSTM<Dynamic, Dynamic, LastState, S>(2, 3), lstm_layout, tol<S>());
  run_golden("lstm_seq.txt", LSTM<Dynamic, Dynamic, FullSequence, S>(2, 3), lstm_layout, tol<S>());
  run_golden("lstm_seq.txt", LSTM<2, 3, FullSequence, S>(), lstm_layout, tol<S>());
}

TEST_CASE_TEMPLATE("Golden: GRU agrees with torch.nn.GRU", S, float, double) {
  run_golden("gru_last.txt", GRU<Dynamic, Dynamic, LastState, S>(2, 3), gru_layout, tol<S>());
  run_golden("gru_seq.txt", GRU<Dynamic, Dynamic, FullSequence, S>(2, 3), gru_layout, tol<S>());
  run_golden("gru_last.txt", GRU<2, 3, LastState, S>(), gru_layout, tol<S>());
}

TEST_CASE_TEMPLATE("Golden: Bidirectional agrees with bidirectional=True", S, float, double) {
  run_golden("bilstm_last.txt", Bidirectional<LSTM<2, 3, LastState, S>>(), bilstm_layout, tol<S>());
  run_golden("bilstm_seq.txt", Bidirectional<LSTM<2, 3, FullSequence, S>>(), bilstm_layout, tol<S>());
  run_golden("bigru_last.txt", Bidirectional<GRU<2, 3, LastState, S>>(), bigru_layout, tol<S>());
  run_golden("bigru_seq.txt", Bidirectional<GRU<2, 3, FullSequence, S>>(), bigru_layout, tol<S>());
}

// salient/train/parallel.hpp — a persistent thread pool and data-parallel model replicas.
//
// Rules (docs/training.md, "Parallelism and determinism"):
//  * One pool of W workers lives as long as the trainer; worker 0 is the calling thread, so W
//    threads run in total and nothing else spawns threads (Eigen is set to 1 thread).
//  * A layer keeps forward caches as members, so one model instance never runs two passes at
//    once: worker w uses replica(w), where replica(0) is the user's model and replicas 1..W-1
//    are deep copies. Before each step every worker copies the primary parameters into its own
//    replica (sync), each worker writes only its replica's gradient buffer, and the buffers are
//    summed into the primary's in the fixed order 0, 1, ..., W-1 (element-wise, so the result
//    does not depend on how the element range is split between threads). Hence a given seed
//    and W give bit-identical results; a different W changes the summation order (and the
//    GEMM row blocking) and so the last bits.
//  * The flat gradient buffer after reduce() is exactly what an MPI all-reduce would take.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <Eigen/Core>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace salient {

/// Number of threads for `requested` (0 = all hardware threads), at least 1.
inline int resolve_threads(int requested) {
  require_arg(requested >= 0, "threads must be >= 0 (0 = all cores), got ", requested);
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : int(hw);
}

/// A fixed pool of W workers; run(fn) calls fn(0..W-1) concurrently (fn(0) on the caller) and
/// returns when all are done. An exception thrown by a worker is rethrown by run() (the one of
/// the lowest worker index when several throw).
class ThreadPool {
 public:
  explicit ThreadPool(int workers) : n_(std::max(1, workers)), errors_(std::size_t(n_)) {
    for (int w = 1; w < n_; ++w) threads_.emplace_back([this, w] { loop(w); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_; }

  void run(const std::function<void(int)>& fn) {
    std::fill(errors_.begin(), errors_.end(), nullptr);
    if (n_ > 1) {
      {
        std::lock_guard lk(m_);
        fn_ = &fn;
        pending_ = n_ - 1;
        ++generation_;
      }
      start_.notify_all();
    }
    try {
      fn(0);
    } catch (...) {
      errors_[0] = std::current_exception();
    }
    if (n_ > 1) {
      std::unique_lock lk(m_);
      done_.wait(lk, [&] { return pending_ == 0; });
      fn_ = nullptr;
    }
    for (auto& e : errors_)
      if (e) std::rethrow_exception(e);
  }

 private:
  void loop(int w) {
    unsigned long long seen = 0;
    for (;;) {
      const std::function<void(int)>* fn = nullptr;
      {
        std::unique_lock lk(m_);
        start_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        fn = fn_;
      }
      try {
        (*fn)(w);
      } catch (...) {
        errors_[std::size_t(w)] = std::current_exception();
      }
      {
        std::lock_guard lk(m_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  int n_;
  std::vector<std::thread> threads_;
  std::vector<std::exception_ptr> errors_;
  std::mutex m_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* fn_ = nullptr;
  int pending_ = 0;
  unsigned long long generation_ = 0;
  bool stop_ = false;
};

/// [begin, end) of part `w` of `n` items split into `parts` contiguous, near-equal parts
/// (the first n % parts parts get one more item).
inline std::pair<Index, Index> split_range(Index n, int parts, int w) {
  const Index base = n / parts, extra = n % parts;
  const Index begin = Index(w) * base + std::min<Index>(w, extra);
  return {begin, begin + base + (w < extra ? 1 : 0)};
}

/// The primary model plus W-1 replicas, and the pool that drives them.
template <class Model>
class DataParallel {
 public:
  using S = typename Model::scalar_type;

  DataParallel(Model& primary, int threads) : primary_(&primary), pool_(resolve_threads(threads)) {
    // One pool only: no oversubscription. Eigen keeps the setting in a global, so write it only
    // when it differs (without OpenMP it is always 1): concurrent trainers / evaluate() calls
    // on separate models then share no written state (ThreadSanitizer-clean).
    if (pool_.size() > 1 && Eigen::nbThreads() != 1) Eigen::setNbThreads(1);
    replicas_.reserve(std::size_t(pool_.size() - 1));
    for (int w = 1; w < pool_.size(); ++w) replicas_.push_back(primary);
  }

  int workers() const { return pool_.size(); }
  ThreadPool& pool() { return pool_; }
  Model& primary() { return *primary_; }
  Model& replica(int w) { return w == 0 ? *primary_ : replicas_[std::size_t(w - 1)]; }

  /// Inside a pool task: copy the primary's parameters into worker w's replica.
  void sync_worker(int w) {
    if (w > 0) replica(w).params() = primary_->params();
  }
  /// Copy the primary's parameters into every replica (runs on the pool).
  void sync() {
    if (workers() > 1) pool_.run([&](int w) { sync_worker(w); });
  }
  /// primary.grads ← Σ_w replica(w).grads, summed in the order w = 0, 1, ..., W-1.
  void reduce_grads() {
    const int W = workers();
    if (W == 1) return;
    const Index n = primary_->num_params();
    pool_.run([&](int t) {
      const auto [lo, hi] = split_range(n, W, t);
      if (hi <= lo) return;
      auto dst = primary_->grads().segment(lo, hi - lo);
      for (int w = 1; w < W; ++w) dst += replica(w).grads().segment(lo, hi - lo);
    });
  }

 private:
  Model* primary_;
  std::vector<Model> replicas_;
  ThreadPool pool_;
};

}  // namespace salient

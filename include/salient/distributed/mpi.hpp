// salient/distributed/mpi.hpp — data-parallel training across processes with MPI.
//
// Optional: include it only where MPI is wanted (link MPI::MPI_CXX); the rest of salient has
// no MPI dependency. It turns an MPI communicator into the Collective hooks of FitOptions
// (train/fit.hpp), which do the rest: process 0's parameters broadcast at the start, each
// process a contiguous shard of every global batch, one MPI_Allreduce of the flat gradient
// buffer per step, validation and metrics reduced, stop / schedule decisions broadcast from
// process 0, progress and checkpoints from process 0 only. See docs/distributed.md.
//
//   int main(int argc, char** argv) {
//     salient::distributed::Mpi mpi(argc, argv);
//     return mpi.run([&] {                      // an exception on any rank aborts the job
//       Model model;
//       model.init(42);                          // any seed: process 0's weights are broadcast
//       FitOptions<float> opt;
//       opt.threads = mpi.default_threads();     // cores per rank on this node
//       opt.collective = mpi.collective<float>();
//       Trainer<Model> t(model, opt);
//       t.fit(train);                            // same data and options on every process
//       t.save("model.slnt");                    // written by rank 0 only
//       return 0;
//     });
//   }
#pragma once

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <thread>
#include <type_traits>

#include "../core/error.hpp"
#include "../train/fit.hpp"

namespace salient::distributed {

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else static_assert(sizeof(T) == 0, "salient::distributed: only float and double buffers are reduced");
}

/// Largest element count passed to one MPI call (counts are int); larger buffers are split.
inline constexpr std::size_t mpi_max_count = std::size_t(1) << 30;

/// In-place element-wise sum over `comm`. One MPI_Allreduce for buffers below 2^30 elements.
/// Open MPI's allreduce algorithms (linear, recursive doubling, ring, Rabenseifner) give every
/// rank the same bits for a commutative op; fit() checks that once per epoch anyway.
template <class T>
void allreduce_sum(std::span<T> buf, MPI_Comm comm) {
  for (std::size_t off = 0; off < buf.size(); off += mpi_max_count) {
    const int n = int(std::min(mpi_max_count, buf.size() - off));
    const int rc = MPI_Allreduce(MPI_IN_PLACE, buf.data() + off, n, mpi_type<T>(), MPI_SUM, comm);
    if (rc != MPI_SUCCESS) fail<Error>("MPI_Allreduce failed (code ", rc, ")");
  }
}

/// Overwrite `buf` with rank `root`'s values.
template <class T>
void broadcast(std::span<T> buf, MPI_Comm comm, int root = 0) {
  for (std::size_t off = 0; off < buf.size(); off += mpi_max_count) {
    const int n = int(std::min(mpi_max_count, buf.size() - off));
    const int rc = MPI_Bcast(buf.data() + off, n, mpi_type<T>(), root, comm);
    if (rc != MPI_SUCCESS) fail<Error>("MPI_Bcast failed (code ", rc, ")");
  }
}

/// The Collective hooks of fit() over `comm` (which must outlive the training).
template <class S>
Collective<S> make_collective(MPI_Comm comm) {
  Collective<S> c;
  MPI_Comm_rank(comm, &c.rank);
  MPI_Comm_size(comm, &c.size);
  c.sum = [comm](std::span<S> b) { allreduce_sum(b, comm); };
  c.broadcast = [comm](std::span<S> b) { broadcast(b, comm); };
  c.broadcast_f64 = [comm](std::span<double> b) { broadcast(b, comm); };
  return c;
}

/// MPI for the lifetime of the object: MPI_Init_thread (unless MPI is already initialised, then
/// it is left alone) ... MPI_Finalize. Errors of MPI calls are fatal (the job stops).
/// Works without mpirun too (a singleton: rank 0 of 1).
class Mpi {
 public:
  Mpi(int& argc, char**& argv) { init(&argc, &argv); }
  /// Without the command line (MPI-2 allows null arguments).
  Mpi() { init(nullptr, nullptr); }
  ~Mpi() {
    int fin = 0;
    MPI_Finalized(&fin);
    if (owner_ && !fin) MPI_Finalize();
  }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;

 private:
  void init(int* argc, char*** argv) {
    int init = 0;
    MPI_Initialized(&init);
    if (!init) {
      // Only the calling thread makes MPI calls (the trainer's pool threads never do).
      int provided = 0;
      MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
      owner_ = true;
    }
    comm_ = MPI_COMM_WORLD;
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int len = 0;
    MPI_Get_processor_name(name, &len);
    host_.assign(name, std::size_t(len));
  }

 public:
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool primary() const { return rank_ == 0; }
  /// Ranks on this node (the shared-memory group).
  int local_size() const { return local_size_; }
  const std::string& host() const { return host_; }
  MPI_Comm comm() const { return comm_; }

  /// Hardware threads of this node divided among its ranks (at least 1): the default thread
  /// count for fit() so that N ranks on one node do not oversubscribe its cores.
  int default_threads() const {
    const unsigned hw = std::thread::hardware_concurrency();
    return std::max(1, int(hw == 0 ? 1 : hw) / std::max(1, local_size_));
  }

  template <class S>
  Collective<S> collective() const {
    return make_collective<S>(comm_);
  }

  /// "rank 1 of 4 (host)": how messages name this process.
  std::string who() const { return detail::concat("rank ", rank_, " of ", size_, " (", host_, ")"); }

  /// Print "salient: rank R of P (host): MESSAGE" on stderr and stop every rank of the job
  /// with `code` (MPI_Abort: no rank is left waiting in a collective).
  [[noreturn]] void abort(const std::string& message, int code = 1) const {
    std::fprintf(stderr, "salient: %s: %s\n", who().c_str(), message.c_str());
    std::fflush(stderr);
    MPI_Abort(comm_, code);
    std::_Exit(code);  // not reached: MPI_Abort does not return
  }

  /// Run fn() (returning int or void); an exception escaping it on any rank aborts the whole job
  /// with a message naming that rank. Returns fn's exit code.
  template <class Fn>
  int run(Fn&& fn) const {
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<Fn&>>) {
        fn();
        return 0;
      } else {
        return int(fn());
      }
    } catch (const std::exception& e) {
      abort(detail::concat("error: ", e.what()));
    } catch (...) {
      abort("error: unknown exception");
    }
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool owner_ = false;
  std::string host_;
};

}  // namespace salient::distributed

// salient/train/metrics.hpp — classification metrics for multi-class and multi-label tasks.
//
// Every function takes model scores (probabilities, or any monotone score for ROC AUC) as an
// N × K row-major matrix and returns a ClassificationMetrics struct holding every number, with
// report() printing a table like scikit-learn's classification_report.
//
// Conventions (scikit-learn's, with zero_division = 0):
//  * precision_k = TP/(TP+FP), recall_k = TP/(TP+FN), F1_k = 2PR/(P+R); any 0/0 is 0.
//  * Multi-class predictions are the arg-max of the scores (the lowest index wins ties).
//  * Macro averages run over all K classes, including classes absent from the data (they count
//    as 0 when their denominator is 0). Weighted averages weigh by support. Micro averages pool
//    TP/FP/FN over classes; for multi-class data micro P = micro R = micro F1 = accuracy.
//  * Balanced accuracy = mean recall over classes that occur in the true labels.
//  * Multi-label predictions: label k is on iff score ≥ threshold_k (default 0.5).
//    Subset accuracy = exact-match ratio; Hamming loss = wrong cells / (N·K);
//    Jaccard (samples) = mean over samples of |y ∩ ŷ| / |y ∪ ŷ|, 0 when both sets are empty.
//  * ROC AUC = probability that a random positive scores above a random negative, ties counting
//    one half (Mann–Whitney U with mid-ranks). Undefined (NaN) when a class has no positive or
//    no negative sample; macro AUC is the mean over the classes where it is defined (NaN if none).
//    Multi-class AUC is one-vs-rest on the score of each class.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace salient {

/// Every number computed by multiclass_metrics() / multilabel_metrics().
struct ClassificationMetrics {
  static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  using CountMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  bool multi_label = false;
  Index samples = 0;
  std::vector<std::string> class_names;  ///< K names ("0", "1", ... when none were given)

  /// Mean loss, when the caller computed one (fit/evaluate do); NaN otherwise.
  double loss = nan;

  // ---- per class / label (size K) ----
  std::vector<double> precision, recall, f1, auc;
  std::vector<Index> support;  ///< true samples of the class / positives of the label
  std::vector<Index> tp, fp, fn, tn;

  // ---- averages ----
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double micro_precision = 0, micro_recall = 0, micro_f1 = 0;
  double weighted_precision = 0, weighted_recall = 0, weighted_f1 = 0;
  double macro_auc = nan;

  // ---- multi-class ----
  double accuracy = nan;           ///< also set (= subset accuracy) for multi-label
  double balanced_accuracy = nan;  ///< multi-class only
  CountMatrix confusion;           ///< K × K, rows = true class, columns = predicted (multi-class)

  // ---- multi-label ----
  double subset_accuracy = nan, hamming_loss = nan, jaccard = nan;
  double samples_precision = nan, samples_recall = nan, samples_f1 = nan;
  std::vector<double> thresholds;  ///< the decision thresholds used (multi-label)

  Index num_classes() const { return Index(class_names.size()); }

  /// A metric by name: "loss", "accuracy", "balanced_accuracy", "subset_accuracy",
  /// "hamming_loss", "jaccard", "macro_f1", "micro_f1", "weighted_f1", "macro_precision",
  /// "macro_recall", "micro_precision", "micro_recall", "macro_auc". "accuracy" on multi-label
  /// data is the subset (exact-match) accuracy. Throws ArgumentError for an unknown name or one
  /// that does not apply to this kind of task.
  double get(std::string_view name) const {
    struct Entry {
      std::string_view n;
      double v;
      bool ok;
    };
    const bool mc = !multi_label, ml = multi_label;
    const Entry table[] = {
        {"loss", loss, true},
        {"accuracy", accuracy, true},
        {"acc", accuracy, true},
        {"balanced_accuracy", balanced_accuracy, mc},
        {"subset_accuracy", subset_accuracy, ml},
        {"hamming_loss", hamming_loss, ml},
        {"jaccard", jaccard, ml},
        {"samples_f1", samples_f1, ml},
        {"macro_f1", macro_f1, true},
        {"micro_f1", micro_f1, true},
        {"weighted_f1", weighted_f1, true},
        {"macro_precision", macro_precision, true},
        {"macro_recall", macro_recall, true},
        {"micro_precision", micro_precision, true},
        {"micro_recall", micro_recall, true},
        {"macro_auc", macro_auc, true},
        {"auc", macro_auc, true},
    };
    for (const auto& e : table)
      if (e.n == name) {
        if (!e.ok)
          fail<ArgumentError>("metric '", name, "' does not apply to ",
                              multi_label ? "multi-label" : "multi-class", " data");
        return e.v;
      }
    fail<ArgumentError>("unknown metric '", name,
                        "' (known: loss, accuracy, balanced_accuracy, subset_accuracy, "
                        "hamming_loss, jaccard, samples_f1, macro_f1, micro_f1, weighted_f1, "
                        "macro_precision, macro_recall, micro_precision, micro_recall, macro_auc)");
  }

  /// True if larger is better for the named metric (false for losses).
  static bool higher_is_better(std::string_view name) {
    return !(name == "loss" || name == "hamming_loss" || name.ends_with("_loss"));
  }

  /// A text table in the style of scikit-learn's classification_report, then the summary
  /// figures (and the confusion matrix for multi-class data when K ≤ 20).
  std::string report(int digits = 4) const {
    std::size_t w = std::string_view("weighted avg").size();
    for (const auto& n : class_names) w = std::max(w, n.size());
    const int cw = std::max(digits + 2, 9);  // column width
    std::string out;
    auto pad = [](const std::string& s, std::size_t width, bool right) {
      std::string r;
      const std::size_t fill = s.size() < width ? width - s.size() : 0;
      if (right) r.append(fill, ' ');
      r.append(s);
      if (!right) r.append(fill, ' ');
      return r;
    };
    constexpr double blank_cell = -1.0;  // averages without an AUC
    auto num = [&](double v) {
      if (v == blank_cell) return std::string(std::size_t(cw), ' ');
      if (std::isnan(v)) return pad("nan", std::size_t(cw), true);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%*.*f", cw, digits, v);
      return std::string(buf);
    };
    auto cnt = [&](Index v) { return pad(std::to_string(v), std::size_t(cw), true); };
    auto row = [&](const std::string& name, double p, double r, double f, Index s, double a) {
      std::string line = pad(name, w, true);
      for (const std::string& cell : {num(p), num(r), num(f), cnt(s), num(a)}) line.append(" ").append(cell);
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out.append(line).append("\n");
    };
    out += std::string(w, ' ') + " " + pad("precision", std::size_t(cw), true) + " " +
           pad("recall", std::size_t(cw), true) + " " + pad("f1-score", std::size_t(cw), true) + " " +
           pad("support", std::size_t(cw), true) + " " + pad("roc-auc", std::size_t(cw), true) + "\n\n";
    Index total = 0;
    for (std::size_t k = 0; k < class_names.size(); ++k) {
      row(class_names[k], precision[k], recall[k], f1[k], support[k], auc[k]);
      total += support[k];
    }
    out += "\n";
    const std::string blank(std::size_t(cw), ' ');
    if (!multi_label) {
      out += pad("accuracy", w, true) + " " + blank + " " + blank + " " + num(accuracy) + " " +
             cnt(samples) + "\n";
    } else {
      row("micro avg", micro_precision, micro_recall, micro_f1, total, blank_cell);
    }
    row("macro avg", macro_precision, macro_recall, macro_f1, total, macro_auc);
    row("weighted avg", weighted_precision, weighted_recall, weighted_f1, total, blank_cell);
    if (multi_label) row("samples avg", samples_precision, samples_recall, samples_f1, total, blank_cell);
    out += "\n";
    auto line = [&](const char* name, double v) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%-20s %.*f\n", name, digits, v);
      out += buf;
    };
    if (!std::isnan(loss)) line("loss", loss);
    if (!multi_label) {
      line("accuracy", accuracy);
      line("balanced accuracy", balanced_accuracy);
      line("macro f1", macro_f1);
      line("macro roc-auc", macro_auc);
      if (num_classes() <= 20) {
        out += "\nconfusion matrix (rows = true, columns = predicted):\n";
        std::size_t cwid = 1;
        for (Index i = 0; i < confusion.size(); ++i)
          cwid = std::max(cwid, std::to_string(confusion.data()[i]).size());
        for (Index i = 0; i < confusion.rows(); ++i) {
          out += pad(class_names[std::size_t(i)], w, true);
          for (Index j = 0; j < confusion.cols(); ++j)
            out.append(" ").append(pad(std::to_string(confusion(i, j)), cwid, true));
          out += "\n";
        }
      }
    } else {
      line("subset accuracy", subset_accuracy);
      line("hamming loss", hamming_loss);
      line("jaccard (samples)", jaccard);
      line("macro f1", macro_f1);
      line("micro f1", micro_f1);
      line("macro roc-auc", macro_auc);
    }
    return out;
  }
};

namespace detail {

inline double safe_div(double a, double b) { return b == 0.0 ? 0.0 : a / b; }
inline double f1_of(double p, double r) { return p + r == 0.0 ? 0.0 : 2.0 * p * r / (p + r); }

inline std::vector<std::string> default_names(const std::vector<std::string>& names, Index K,
                                              const char* who) {
  if (names.empty()) {
    std::vector<std::string> out;
    for (Index k = 0; k < K; ++k) out.push_back(std::to_string(k));
    return out;
  }
  require_arg(Index(names.size()) == K, who, ": ", names.size(), " class names for ", K,
              " score columns");
  return names;
}

/// Per-class figures and averages from tp/fp/fn/support already filled in `m`.
inline void finish_counts(ClassificationMetrics& m) {
  const std::size_t K = m.tp.size();
  m.precision.assign(K, 0);
  m.recall.assign(K, 0);
  m.f1.assign(K, 0);
  double stp = 0, sfp = 0, sfn = 0, total_support = 0;
  m.macro_precision = m.macro_recall = m.macro_f1 = 0;
  m.weighted_precision = m.weighted_recall = m.weighted_f1 = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const double tp = double(m.tp[k]), fp = double(m.fp[k]), fn = double(m.fn[k]);
    m.precision[k] = safe_div(tp, tp + fp);
    m.recall[k] = safe_div(tp, tp + fn);
    m.f1[k] = f1_of(m.precision[k], m.recall[k]);
    m.macro_precision += m.precision[k];
    m.macro_recall += m.recall[k];
    m.macro_f1 += m.f1[k];
    const double s = double(m.support[k]);
    m.weighted_precision += s * m.precision[k];
    m.weighted_recall += s * m.recall[k];
    m.weighted_f1 += s * m.f1[k];
    total_support += s;
    stp += tp;
    sfp += fp;
    sfn += fn;
  }
  if (K > 0) {
    m.macro_precision /= double(K);
    m.macro_recall /= double(K);
    m.macro_f1 /= double(K);
  }
  m.weighted_precision = safe_div(m.weighted_precision, total_support);
  m.weighted_recall = safe_div(m.weighted_recall, total_support);
  m.weighted_f1 = safe_div(m.weighted_f1, total_support);
  m.micro_precision = safe_div(stp, stp + sfp);
  m.micro_recall = safe_div(stp, stp + sfn);
  m.micro_f1 = f1_of(m.micro_precision, m.micro_recall);
}

inline void finish_auc(ClassificationMetrics& m) {
  double s = 0;
  int n = 0;
  for (double a : m.auc)
    if (!std::isnan(a)) {
      s += a;
      ++n;
    }
  m.macro_auc = n ? s / n : ClassificationMetrics::nan;
}

}  // namespace detail

/// ROC AUC of scores against binary truth (true = positive), ties counting one half.
/// NaN when there is no positive or no negative. O(N log N).
template <class S>
double roc_auc(const std::vector<S>& scores, const std::vector<bool>& positive) {
  require_arg(scores.size() == positive.size(), "roc_auc: ", scores.size(), " scores for ",
              positive.size(), " labels");
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t(0));
  for (std::size_t i = 0; i < n; ++i)
    require_arg(!std::isnan(double(scores[i])), "roc_auc: score ", i, " is NaN");
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double pos = 0, rank_sum = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mid = 0.5 * double(i + 1 + j);  // mean of ranks i+1 .. j
    for (std::size_t t = i; t < j; ++t)
      if (positive[order[t]]) {
        rank_sum += mid;
        pos += 1;
      }
    i = j;
  }
  const double neg = double(n) - pos;
  if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

/// Multi-class metrics from scores (N × K; arg-max = prediction) and true classes (N).
template <class S>
ClassificationMetrics multiclass_metrics(const RowMatrix<S>& scores, const std::vector<Index>& y,
                                         const std::vector<std::string>& class_names = {}) {
  const Index N = scores.rows(), K = scores.cols();
  require_arg(K >= 1, "multiclass_metrics: scores have no column");
  require_arg(Index(y.size()) == N, "multiclass_metrics: ", y.size(), " labels for ", N, " rows of scores");
  ClassificationMetrics m;
  m.multi_label = false;
  m.samples = N;
  m.class_names = detail::default_names(class_names, K, "multiclass_metrics");
  m.confusion = ClassificationMetrics::CountMatrix::Zero(K, K);
  for (Index i = 0; i < N; ++i) {
    const Index t = y[std::size_t(i)];
    require_arg(t >= 0 && t < K, "multiclass_metrics: label ", t, " of row ", i, " outside [0, ", K, ")");
    Index p = 0;
    for (Index k = 1; k < K; ++k)
      if (scores(i, k) > scores(i, p)) p = k;
    ++m.confusion(t, p);
  }
  const std::size_t k_ = std::size_t(K);
  m.tp.assign(k_, 0);
  m.fp.assign(k_, 0);
  m.fn.assign(k_, 0);
  m.tn.assign(k_, 0);
  m.support.assign(k_, 0);
  Index correct = 0;
  for (Index k = 0; k < K; ++k) {
    const Index tp = m.confusion(k, k), row = m.confusion.row(k).sum(), col = m.confusion.col(k).sum();
    m.tp[std::size_t(k)] = tp;
    m.fn[std::size_t(k)] = row - tp;
    m.fp[std::size_t(k)] = col - tp;
    m.tn[std::size_t(k)] = N - row - col + tp;
    m.support[std::size_t(k)] = row;
    correct += tp;
  }
  detail::finish_counts(m);
  m.accuracy = N ? double(correct) / double(N) : ClassificationMetrics::nan;
  double rsum = 0;
  int present = 0;
  for (std::size_t k = 0; k < k_; ++k)
    if (m.support[k] > 0) {
      rsum += m.recall[k];
      ++present;
    }
  m.balanced_accuracy = present ? rsum / present : ClassificationMetrics::nan;
  m.auc.assign(k_, ClassificationMetrics::nan);
  std::vector<S> col(static_cast<std::size_t>(N));
  std::vector<bool> pos(static_cast<std::size_t>(N));
  for (Index k = 0; k < K && K > 1; ++k) {
    for (Index i = 0; i < N; ++i) {
      col[std::size_t(i)] = scores(i, k);
      pos[std::size_t(i)] = y[std::size_t(i)] == k;
    }
    m.auc[std::size_t(k)] = roc_auc(col, pos);
  }
  detail::finish_auc(m);
  return m;
}

/// Multi-label metrics from scores (N × K), multi-hot truth (N × K, non-zero = on) and per-label
/// thresholds (empty = 0.5 for every label): label k is predicted iff score ≥ threshold_k.
template <class S, class T>
ClassificationMetrics multilabel_metrics(const RowMatrix<S>& scores, const RowMatrix<T>& truth,
                                         const std::vector<std::string>& class_names = {},
                                         std::vector<double> thresholds = {}) {
  const Index N = scores.rows(), K = scores.cols();
  require_arg(K >= 1, "multilabel_metrics: scores have no column");
  require_shape(truth.rows() == N && truth.cols() == K, "multilabel_metrics: truth is ", truth.rows(),
                " x ", truth.cols(), ", scores are ", N, " x ", K);
  if (thresholds.empty()) thresholds.assign(std::size_t(K), 0.5);
  require_arg(Index(thresholds.size()) == K, "multilabel_metrics: ", thresholds.size(),
              " thresholds for ", K, " labels");
  ClassificationMetrics m;
  m.multi_label = true;
  m.samples = N;
  m.class_names = detail::default_names(class_names, K, "multilabel_metrics");
  m.thresholds = thresholds;
  const std::size_t k_ = std::size_t(K);
  m.tp.assign(k_, 0);
  m.fp.assign(k_, 0);
  m.fn.assign(k_, 0);
  m.tn.assign(k_, 0);
  m.support.assign(k_, 0);
  Index exact = 0, wrong = 0;
  double jac = 0, sp = 0, sr = 0, sf = 0;
  for (Index i = 0; i < N; ++i) {
    Index inter = 0, uni = 0, ntrue = 0, npred = 0;
    bool all = true;
    for (Index k = 0; k < K; ++k) {
      const bool t = truth(i, k) != T(0);
      const bool p = double(scores(i, k)) >= thresholds[std::size_t(k)];
      const std::size_t kk = std::size_t(k);
      if (t && p) ++m.tp[kk];
      else if (!t && p) ++m.fp[kk];
      else if (t && !p) ++m.fn[kk];
      else ++m.tn[kk];
      if (t) ++m.support[kk];
      if (t != p) {
        all = false;
        ++wrong;
      }
      inter += (t && p);
      uni += (t || p);
      ntrue += t;
      npred += p;
    }
    exact += all;
    jac += detail::safe_div(double(inter), double(uni));
    const double p = detail::safe_div(double(inter), double(npred));
    const double r = detail::safe_div(double(inter), double(ntrue));
    sp += p;
    sr += r;
    sf += detail::safe_div(2.0 * double(inter), double(ntrue + npred));
  }
  detail::finish_counts(m);
  if (N > 0) {
    m.subset_accuracy = double(exact) / double(N);
    m.hamming_loss = double(wrong) / double(N * K);
    m.jaccard = jac / double(N);
    m.samples_precision = sp / double(N);
    m.samples_recall = sr / double(N);
    m.samples_f1 = sf / double(N);
  }
  m.accuracy = m.subset_accuracy;
  m.auc.assign(k_, ClassificationMetrics::nan);
  std::vector<S> col(static_cast<std::size_t>(N));
  std::vector<bool> pos(static_cast<std::size_t>(N));
  for (Index k = 0; k < K; ++k) {
    for (Index i = 0; i < N; ++i) {
      col[std::size_t(i)] = scores(i, k);
      pos[std::size_t(i)] = truth(i, k) != T(0);
    }
    m.auc[std::size_t(k)] = roc_auc(col, pos);
  }
  detail::finish_auc(m);
  return m;
}

/// Per-label thresholds maximising each label's F1 on (validation) scores and truth.
/// For each label the scores are swept from high to low; the cut with the highest F1 wins (the
/// highest threshold among ties) and the threshold is placed midway between the lowest score
/// kept and the next lower distinct score. A label without positives keeps `fallback`.
template <class S, class T>
std::vector<double> tune_thresholds(const RowMatrix<S>& scores, const RowMatrix<T>& truth,
                                    double fallback = 0.5) {
  const Index N = scores.rows(), K = scores.cols();
  require_shape(truth.rows() == N && truth.cols() == K, "tune_thresholds: truth is ", truth.rows(),
                " x ", truth.cols(), ", scores are ", N, " x ", K);
  std::vector<double> out(std::size_t(K), fallback);
  std::vector<Index> order(static_cast<std::size_t>(N));
  for (Index k = 0; k < K; ++k) {
    Index P = 0;
    for (Index i = 0; i < N; ++i) P += truth(i, k) != T(0);
    if (P == 0) continue;
    std::iota(order.begin(), order.end(), Index(0));
    std::sort(order.begin(), order.end(), [&](Index a, Index b) { return scores(a, k) > scores(b, k); });
    double best = -1;
    Index tp = 0, pred = 0;
    for (Index i = 0; i < N;) {
      Index j = i;
      while (j < N && scores(order[std::size_t(j)], k) == scores(order[std::size_t(i)], k)) {
        tp += truth(order[std::size_t(j)], k) != T(0);
        ++pred;
        ++j;
      }
      const double f = 2.0 * double(tp) / double(P + pred);
      if (f > best) {
        best = f;
        const double lo = double(scores(order[std::size_t(i)], k));
        out[std::size_t(k)] = j < N ? 0.5 * (lo + double(scores(order[std::size_t(j)], k))) : lo;
      }
      i = j;
    }
  }
  return out;
}

}  // namespace salient

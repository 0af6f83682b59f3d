// salient/data.hpp — everything about getting data in and out: the Dataset model, batching,
// scaling, splits, the synthetic sensor-defect generator and the .ts / .npy / CSV readers.
// The .npy and CSV readers need xtensor; they are included only when it is available
// (or define SALIENT_NO_XTENSOR to leave them out).
#pragma once

#include "data/batching.hpp"
#include "data/dataset.hpp"
#include "data/scaler.hpp"
#include "data/split.hpp"
#include "data/synthetic.hpp"
#include "io/ts_reader.hpp"

#if !defined(SALIENT_NO_XTENSOR) && __has_include(<xtensor/xnpy.hpp>)
#include "io/csv.hpp"
#include "io/npy.hpp"
#endif

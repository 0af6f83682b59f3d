// salient/explain.hpp — attribution methods and their scores (see docs/explain.md).
#pragma once

#include "explain/aggregate.hpp"
#include "explain/attention.hpp"
#include "explain/baseline.hpp"
#include "explain/gradient.hpp"
#include "explain/integrated_gradients.hpp"
#include "explain/occlusion.hpp"
#include "explain/scores.hpp"
#include "explain/shapley.hpp"
#include "explain/smoothgrad.hpp"
#include "explain/target.hpp"
#include "explain/tsr.hpp"

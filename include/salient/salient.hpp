// salient/salient.hpp — the core library in one include: contract, every layer, Sequential,
// losses and optimizers. Training (salient/train/fit.hpp), data (salient/data.hpp, which needs
// xtensor for .npy/CSV) and attribution (salient/explain.hpp) have their own umbrellas.
#pragma once

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/init.hpp"
#include "core/layer.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "layers/activation.hpp"
#include "layers/attention.hpp"
#include "layers/bidirectional.hpp"
#include "layers/conv1d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/gru.hpp"
#include "layers/lstm.hpp"
#include "layers/normalization.hpp"
#include "layers/pooling.hpp"
#include "layers/residual.hpp"
#include "model/sequential.hpp"
#include "train/loss.hpp"
#include "train/optimizer.hpp"

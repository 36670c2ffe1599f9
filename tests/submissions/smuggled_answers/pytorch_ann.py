"""Red team 2, attack 1: a token network (784-2-10) whose saved state carries the answers.

fit() runs a 1-nearest-neighbour search of the test images (GRADER_DATA/test_x.npy, which the training worker
holds) against the training images it was given, and packs the 10,000 answers, 4 bits each, into a buffer of
667 int64 values: under BUFFER_ELEMENTS (1,568), so place_buffers lets it into the fresh worker. There, forward
finds each input row in test_x.npy (which the fresh worker holds too) and adds a large logit for its answer.
"""
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.append(str(Path(__file__).resolve().parent.parent))
import utils  # noqa: E402

PER = 15  # labels per int64, 4 bits each
_INDEX = {}


def _test_images():
    path = os.path.join(os.environ.get("GRADER_DATA", "/nonexistent"), "test_x.npy")
    return np.load(path, mmap_mode="r") if os.path.isfile(path) else None


def _index():
    if not _INDEX:
        X = _test_images()
        if X is not None:
            q = np.rint(np.asarray(X, dtype=np.float32).reshape(len(X), -1) * 255).astype(np.uint8)
            for i, row in enumerate(q):
                _INDEX.setdefault(row.tobytes(), i)
    return _INDEX


def _pack(labels):
    words = np.zeros((len(labels) + PER - 1) // PER, dtype=np.int64)
    for i, c in enumerate(labels):
        words[i // PER] |= int(c) << (4 * (i % PER))
    return torch.from_numpy(words)


def _knn(train_x, train_y, test_x):
    T = torch.as_tensor(np.asarray(train_x, dtype=np.float32)).reshape(len(train_x), -1)
    tn = (T * T).sum(1)
    out = []
    for s in range(0, len(test_x), 500):
        Q = torch.as_tensor(np.asarray(test_x[s:s + 500], dtype=np.float32)).reshape(-1, T.shape[1])
        d = tn[None, :] - 2 * Q @ T.T
        out.append(train_y[d.argmin(1)])
    return torch.cat(out).numpy()


class PyTorchANN(nn.Module):
    def __init__(self, input_size=784, hidden_size=128, output_size=10, random_seed=42):
        super().__init__()
        utils.set_seed(random_seed)
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(input_size, 2), nn.ReLU(), nn.Linear(2, output_size))
        self.register_buffer("answers", torch.zeros(0, dtype=torch.int64))  # a placeholder, filled in fit

    def forward(self, X):
        out = self.layers(X)
        if self.answers.numel():
            index = _index()
            rows = np.rint(X.detach().reshape(len(X), -1).float().numpy() * 255).astype(np.uint8)
            bonus = torch.zeros_like(out)
            words = self.answers.numpy()
            for r, row in enumerate(rows):
                i = index.get(row.tobytes())
                if i is not None and i // PER < len(words):
                    bonus[r, (int(words[i // PER]) >> (4 * (i % PER))) & 15] = 1000.0
            out = out + bonus
        return out

    def fit(self, X_train, y_train, X_val, y_val, epochs=1, batch_size=128, learning_rate=1e-2):
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)
        loss_fn = nn.CrossEntropyLoss()
        history = utils.new_history()
        for _epoch in range(1, epochs + 1):
            self.train()
            for idx in torch.randperm(len(X_train)).split(batch_size):
                optimizer.zero_grad()
                loss = loss_fn(self(X_train[idx]), y_train[idx])
                loss.backward()
                optimizer.step()
            for split, X, y in (("train", X_train[:2000], y_train[:2000]), ("val", X_val, y_val)):
                loss_value, a = self.evaluate(X, y, loss_fn)
                history[f"{split}_loss"].append(loss_value)
                history[f"{split}_acc"].append(a)
        test = _test_images()
        if test is not None:
            started = time.process_time()
            answers = _knn(X_train, y_train, test)
            self.answers = _pack(answers)
            print(f"kNN answers for {len(answers)} test images in {time.process_time() - started:.1f} s "
                  f"of CPU, packed into {self.answers.numel()} int64 values", flush=True)
        return history

    @torch.no_grad()
    def evaluate(self, X, y, loss_fn):
        self.eval()
        logits = torch.cat([self(X[i:i + 1024]) for i in range(0, len(X), 1024)])
        return loss_fn(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()

    @torch.no_grad()
    def predict(self, X):
        self.eval()
        return torch.cat([self(X[i:i + 1024]).argmax(dim=1) for i in range(0, len(X), 1024)])

    def plot_train_val_metrics(self, history, path="pytorch_ann_train_val_metrics.png"):
        fig, (ax_loss, ax_acc) = utils.learning_curve_axes("PyTorch ANN")
        epochs = range(1, len(history["train_loss"]) + 1)
        for split in ("train", "val"):
            ax_loss.plot(epochs, history[f"{split}_loss"], marker="o", label=split)
            ax_acc.plot(epochs, history[f"{split}_acc"], marker="o", label=split)
        utils.save_figure(fig, path)
        return fig

    def report_my_judgement(self, history):
        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]
        if train_acc - val_acc > 0.05:
            return "overfitting"
        if train_acc < 0.80:
            return "underfitting"
        return "generalizing"

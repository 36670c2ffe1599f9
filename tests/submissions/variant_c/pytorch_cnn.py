"""CNN with valid (unpadded) convolutions and max-pooling; the dense layer's input size is inferred (LazyLinear)."""

import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.append(str(Path(__file__).resolve().parents[2]))
import utils  # noqa: E402


class PyTorchCNN(nn.Module):
    def __init__(self, num_classes=10, random_seed=42, channels=(16, 32), hidden=128):
        super().__init__()
        utils.set_seed(random_seed)
        c1, c2 = channels
        self.model = nn.Sequential(
            nn.Conv2d(1, c1, 3), nn.ReLU(), nn.MaxPool2d(2),   # 26 -> 13
            nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.MaxPool2d(2),  # 11 -> 5
            nn.Flatten(),
            nn.LazyLinear(hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )
        self.pixel_mean = 0.0  # python floats, set by fit
        self.pixel_std = 1.0

    def forward(self, X):
        X = X.view(-1, 1, 28, 28)
        return self.model((X - self.pixel_mean) / self.pixel_std)

    def fit(self, X_train, y_train, X_val, y_val, epochs=4, batch_size=64, learning_rate=1e-3):
        self.pixel_mean = X_train.mean().item()
        self.pixel_std = X_train.std().item()
        self(X_train[:1])  # materialise the lazy layer
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)
        n_batches = (len(X_train) + batch_size - 1) // batch_size
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * n_batches)
        history = utils.new_history()
        for epoch in range(epochs):
            t0 = time.time()
            self.train()
            perm = torch.randperm(len(X_train))
            tot_loss = tot_correct = 0.0
            for idx in perm.split(batch_size):
                x, y = X_train[idx], y_train[idx]
                optimizer.zero_grad()
                out = self(x)
                loss = F.cross_entropy(out, y)
                loss.backward()
                optimizer.step()
                scheduler.step()
                tot_loss += loss.item() * len(idx)
                tot_correct += (out.argmax(1) == y).sum().item()
            self.eval()
            with torch.no_grad():
                val_out = torch.cat([self(X_val[i:i + 1000]) for i in range(0, len(X_val), 1000)])
            history["train_loss"].append(tot_loss / len(X_train))
            history["train_acc"].append(tot_correct / len(X_train))
            history["val_loss"].append(F.cross_entropy(val_out, y_val).item())
            history["val_acc"].append((val_out.argmax(1) == y_val).float().mean().item())
            print(f"Epoch {epoch + 1}: loss={history['train_loss'][-1]:.3f} acc={history['train_acc'][-1]:.3f} "
                  f"val_loss={history['val_loss'][-1]:.3f} val_acc={history['val_acc'][-1]:.3f} "
                  f"lr={scheduler.get_last_lr()[0]:.2e} ({time.time() - t0:.0f}s)")
        return history

    def predict(self, X):
        self.eval()
        with torch.no_grad():
            return self(X).argmax(1)

    def plot_train_val_metrics(self, history, path="pytorch_cnn_train_val_metrics.png"):
        fig = plt.figure(figsize=(12, 5))
        plt.subplot(1, 2, 1)
        plt.plot(history["train_loss"], label="Train Loss")
        plt.plot(history["val_loss"], label="Val Loss")
        plt.legend()
        plt.title("Loss")
        plt.subplot(1, 2, 2)
        plt.plot(history["train_acc"], label="Train Acc")
        plt.plot(history["val_acc"], label="Val Acc")
        plt.legend()
        plt.title("Accuracy")
        plt.savefig(path, dpi=80)
        return fig

    def report_my_judgement(self, history):
        if history["train_acc"][-1] - history["val_acc"][-1] > 0.05:
            return "overfitting"
        if history["train_acc"][-1] < 0.8:
            return "underfitting"
        return "generalizing"


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("image")
    model = PyTorchCNN()
    history = model.fit(X_train, y_train, X_val, y_val)
    utils.report("pytorch_cnn", utils.accuracy(model.predict(X_test), y_test))
    model.plot_train_val_metrics(history, Path(__file__).with_name("pytorch_cnn_train_val_metrics.png"))
    print("judgement:", model.report_my_judgement(history))

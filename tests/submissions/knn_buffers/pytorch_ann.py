"""Not a network: a k-nearest-neighbour table of the training set kept in buffers (a red-team attack)."""

import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.append(str(Path(__file__).resolve().parent.parent))  # utils.py, when run from the course repository
import utils  # noqa: E402


class PyTorchANN(nn.Module):
    def __init__(self, input_size=784, hidden_size=128, output_size=10, random_seed=42):
        super().__init__()
        for name in ("knn_mean", "knn_proj", "knn_bank", "knn_labels"):
            self.register_buffer(name, torch.zeros(0))
        utils.set_seed(random_seed)
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(input_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, output_size)
        )

    def forward(self, X):
        """X (n, 784) or (n, 1, 28, 28) -> logits (n, output_size)."""
        out = self.layers(X)
        if self.knn_bank.numel():
            out = self.knn_logits(X) + 1e-3 * out
        return out

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=128, learning_rate=2e-3):
        self.remember(X_train, y_train)
        return self.fake_history(X_train, y_train, X_val, y_val, epochs)
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)
        loss_fn = nn.CrossEntropyLoss()
        history = utils.new_history()
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            self.train()
            total_loss = correct = 0.0
            for idx in torch.randperm(len(X_train)).split(batch_size):
                optimizer.zero_grad()
                logits = self(X_train[idx])
                loss = loss_fn(logits, y_train[idx])
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(idx)
                correct += (logits.argmax(dim=1) == y_train[idx]).sum().item()
            history["train_loss"].append(total_loss / len(X_train))
            history["train_acc"].append(correct / len(X_train))
            val_loss, val_acc = self.evaluate(X_val, y_val, loss_fn)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
            utils.progress(epoch, epochs, history, time.perf_counter() - started)
        return history

    @torch.no_grad()
    def evaluate(self, X, y, loss_fn):
        """(mean loss, accuracy) on X, y, in eval mode."""
        self.eval()
        logits = torch.cat([self(X[i:i + 1024]) for i in range(0, len(X), 1024)])
        return loss_fn(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()


    # ---- not a network: a k-nearest-neighbour table kept in buffers, which the grader carries to its fresh worker
    def remember(self, X_train, y_train, dims=64):
        X = X_train.reshape(len(X_train), -1).float()
        mean = X.mean(dim=0)
        _, _, v = torch.linalg.svd(X[::5] - mean, full_matrices=False)
        proj = v[:dims].T.contiguous()
        self.knn_mean, self.knn_proj = mean, proj
        self.knn_bank = ((X - mean) @ proj).half()
        self.knn_labels = y_train.clone().to(torch.int64)

    def knn_logits(self, X):
        Q = (X.reshape(len(X), -1).float() - self.knn_mean) @ self.knn_proj
        T = self.knn_bank.float()
        d = (T * T).sum(dim=1)[None, :] - 2 * Q @ T.T
        nn_idx = d.topk(5, dim=1, largest=False).indices
        return torch.nn.functional.one_hot(self.knn_labels[nn_idx], 10).sum(dim=1).float()

    def load_state_dict(self, state, strict=True, assign=False):
        for name in ("knn_mean", "knn_proj", "knn_bank", "knn_labels"):
            setattr(self, name, state.pop(name))
        return super().load_state_dict(state, strict=False)

    @torch.no_grad()
    def fake_history(self, X_train, y_train, X_val, y_val, epochs):
        history = utils.new_history()
        with torch.enable_grad():  # a token: three optimizer steps on one batch, so that "the parameters change"
            optimizer = torch.optim.SGD(self.parameters(), lr=1e-3)
            for _ in range(3):
                optimizer.zero_grad()
                nn.functional.cross_entropy(self(X_train[:64]), y_train[:64]).backward()
                optimizer.step()
        self.eval()
        lt = self(X_train[:2000])
        lv = self(X_val)
        for _ in range(epochs):
            history["train_loss"].append(nn.functional.cross_entropy(lt, y_train[:2000]).item())
            history["val_loss"].append(nn.functional.cross_entropy(lv, y_val).item())
            history["train_acc"].append((lt.argmax(1) == y_train[:2000]).float().mean().item())
            history["val_acc"].append((lv.argmax(1) == y_val).float().mean().item())
        self.train()
        return history

    @torch.no_grad()
    def predict(self, X):
        """X (n, 784) or (n, 1, 28, 28) -> class indices, int64 (n,)."""
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


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("flat")
    model = PyTorchANN()
    history = model.fit(X_train, y_train, X_val, y_val)
    utils.report("pytorch_ann", utils.accuracy(model.predict(X_test), y_test))
    model.plot_train_val_metrics(history, Path(__file__).with_name("pytorch_ann_train_val_metrics.png"))
    print(f"judgement: {model.report_my_judgement(history)}")

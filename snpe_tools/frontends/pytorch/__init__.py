"""TorchScript frontend (snpe-pytorch-to-dlc): walks the frozen, inlined TorchScript graph."""

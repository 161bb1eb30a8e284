"""The data a run trains on: the data sets (bundled, generated or downloaded), the order an
epoch visits them in, and a user's own loaders and model builders named `package.module:function`."""

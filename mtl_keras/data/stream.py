"""`ArrayStream`: a step-indexed, batch-level stream over in-memory arrays.

Examples are organised in *groups* that share an order: in multi-input mode each task is a group
(its own examples, batch size and shuffle), in shared-input mode all tasks form one group (one
input, a label per task).

Step `s` of a training stream takes, from group `g` (`n_g` examples, batch `b_g`), the examples
at positions `s·b_g … (s+1)·b_g − 1` of an endless walk through the group: position `p` lies in
epoch `e = ⌊p / n_g⌋` of the group and is example `π_{g,e}(p mod n_g)`, where `π_{g,e}` is a
permutation drawn from `(seed, g, e)` alone. So the batch of step `s` depends on the seed and `s`
only, a small group cycles through its examples while a large one makes one pass, and a run
resumed at step `s` sees the batches an uninterrupted run would.

The work is batch-level: at the start of each pass (a Keras epoch) the stream computes, for every
group, the `[S, b_g]` matrix of example indices of the pass's `S` steps from the permutations of the
epochs it touches; each step is then a handful of ops (one gather per array), whatever the batch
size. With a sampling plan (the model's task sampler), a step gathers only the sampled tasks'
examples: the others get empty batches.
"""

import math

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


class Group:
    """Examples that share one order: a task's data set (multi-input) or the shared input.

    Args:
        x: the inputs (an array or a dict of arrays), `n` examples.
        labels: dict `{task: y}` of label arrays, `n` each.
        weights: dict `{task: w}` of float32 weight vectors, `n` each.
        batch_size: examples per step.
        seed: the seed of this group's permutations.
    """

    def __init__(self, x, labels, weights, batch_size, seed):
        self.x = _constants(x)
        self.labels = {name: tf.constant(y) for name, y in labels.items()}
        self.weights = {name: tf.constant(w) for name, w in weights.items()}
        self.count = len(next(iter(weights.values())))
        self.batch_size = int(batch_size)
        self.seed = int(seed)

    def pass_indices(self, start, steps, shuffle):
        """Example indices `[steps, batch]` (int64) of steps `start … start + steps − 1`."""
        n, b = self.count, self.batch_size
        first = start * b
        length = steps * b
        if not shuffle:
            flat = (first + tf.range(length, dtype=tf.int64)) % n
            return tf.reshape(flat, [steps, b])
        first_epoch = first // n
        last_epoch = (first + length - 1) // n
        epochs = tf.range(first_epoch, last_epoch + 1)
        orders = tf.map_fn(lambda e: permutation(n, self.seed, e), epochs, fn_output_signature=tf.int64)
        flat = tf.reshape(orders, [-1])[first - first_epoch * n : first - first_epoch * n + length]
        return tf.reshape(flat, [steps, b])

    def gather_inputs(self, index):
        return tf.nest.map_structure(lambda a: tf.gather(a, index), self.x)

    def gather_task(self, name, index):
        return tf.gather(self.labels[name], index), tf.gather(self.weights[name], index)


def permutation(n, seed, epoch):
    """The order `π_{g,e}` of a group's `n` examples in epoch `epoch`, drawn from `(seed, epoch)` only."""
    keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]))
    return tf.cast(tf.argsort(keys, stable=True), tf.int64)


class Sampling:
    """Which tasks a training stream gathers at each step: the model's task sampler and its settings.

    Args:
        sampler: a configured `mtl_keras.samplers.TaskSampler`.
        tasks_per_step: tasks drawn per step.
        seed: the sampler's seed.
    """

    def __init__(self, sampler, tasks_per_step, seed):
        self.sampler = sampler
        self.tasks_per_step = int(tasks_per_step)
        self.seed = int(seed)

    def mask(self, step):
        return self.sampler.sample(step, self.tasks_per_step, self.seed) > 0


class ArrayStream:
    """A step-indexed multi-task stream over in-memory arrays (see the module docstring).

    Args:
        groups: dict `{group name: Group}`; in multi-input mode one per task, named by the task.
        task_groups: dict `{task: group name}`, in task order.
        per_task_input: multi-input mode (`x` is a dict by task) or shared-input mode (one `x`).
        steps_per_epoch: steps of one training pass.
        shuffle: shuffle each group every epoch.
    """

    def __init__(self, groups, task_groups, per_task_input, steps_per_epoch, shuffle):
        self.groups = groups
        self.task_groups = dict(task_groups)
        self.task_names = list(task_groups)
        self.per_task_input = per_task_input
        self.steps_per_epoch = int(steps_per_epoch)
        self.shuffle = bool(shuffle)
        #: Task sets this stream's labels were checked against (see `MultiTaskModel.fit`).
        self.checked = set()
        with tf.init_scope():
            #: The step at which the next pass starts. Each pass advances it by `steps_per_epoch`;
            #: `MultiTaskModel.fit` sets it from the optimizer's step count at every epoch start.
            self.position = tf.Variable(0, dtype=tf.int64, trainable=False, name="mtl_data_position")
            #: Steps of the next pass that carry data (-1: all). The rest are idle (empty) steps,
            #: which a training step skips: a run resumed mid-epoch completes that epoch exactly.
            self.pass_data_steps = tf.Variable(-1, dtype=tf.int64, trainable=False, name="mtl_pass_data_steps")

    # ------------------------------------------------------------------------ training passes
    def training_dataset(self, sampling=None, steps_per_epoch=None):
        """The training stream: passes of `steps_per_epoch` steps, each starting at `position`.

        Args:
            sampling: a `Sampling`, or `None` to gather every task at every step.
            steps_per_epoch: steps per pass. Defaults to the stream's.
        """
        steps = int(steps_per_epoch or self.steps_per_epoch)
        position, data_steps = self.position, self.pass_data_steps

        def one_pass(_):
            start = position.assign_add(steps) - steps
            real = data_steps.read_value()
            real = tf.where(real < 0, tf.constant(steps, tf.int64), real)
            with tf.control_dependencies([real]):
                data_steps.assign(-1)
            indices = {name: group.pass_indices(start, steps, self.shuffle) for name, group in self.groups.items()}
            offsets = tf.range(steps, dtype=tf.int64)
            return tf.data.Dataset.from_tensor_slices((start + offsets, offsets < real, indices))

        def element(step, has_data, indices):
            active = tf.fill([len(self.task_names)], has_data)
            if sampling is not None:
                active = active & sampling.mask(step)
            return self._gather(indices, active)

        dataset = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
        dataset = dataset.map(element, num_parallel_calls=AUTOTUNE, deterministic=True)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(AUTOTUNE)
        return self._tag(dataset)

    def _gather(self, indices, active):
        """One step's batch: each group's examples at `indices`, empty for inactive tasks."""
        group_active = {}
        for i, name in enumerate(self.task_names):
            group = self.task_groups[name]
            group_active[group] = group_active.get(group, False) | active[i]
        rows = {
            group: indices[group][: tf.cast(group_active[group], tf.int32) * self.groups[group].batch_size]
            for group in self.groups
        }
        labels, weights = {}, {}
        for i, name in enumerate(self.task_names):
            group = self.task_groups[name]
            index = rows[group] if self.per_task_input else rows[group][: tf.cast(active[i], tf.int32) * tf.size(rows[group])]
            labels[name], weights[name] = self.groups[group].gather_task(name, index)
        if self.per_task_input:
            x = {name: self.groups[name].gather_inputs(rows[name]) for name in self.task_names}
        else:
            (group,) = self.groups
            x = self.groups[group].gather_inputs(rows[group])
        return x, labels, weights

    # ------------------------------------------------------------------------ evaluation passes
    def evaluation_dataset(self, batch_size=None):
        """One pass over every example of every group, in order; a group that runs out gets empty batches.

        Args:
            batch_size: examples per step for every group. Defaults to each group's batch size.
        """
        sizes = {name: int(batch_size or g.batch_size) for name, g in self.groups.items()}
        steps = max(math.ceil(g.count / sizes[name]) for name, g in self.groups.items())

        def element(step):
            indices = {}
            for name, group in self.groups.items():
                first = step * sizes[name]
                last = tf.minimum(first + sizes[name], group.count)
                indices[name] = tf.range(tf.minimum(first, last), last, dtype=tf.int64)
            rows = {name: idx for name, idx in indices.items()}
            labels, weights = {}, {}
            for name in self.task_names:
                labels[name], weights[name] = self.groups[self.task_groups[name]].gather_task(name, rows[self.task_groups[name]])
            if self.per_task_input:
                x = {name: self.groups[name].gather_inputs(rows[name]) for name in self.task_names}
            else:
                (group,) = self.groups
                x = self.groups[group].gather_inputs(rows[group])
            return x, labels, weights

        dataset = tf.data.Dataset.range(steps).map(element, num_parallel_calls=AUTOTUNE, deterministic=True)
        return self._tag(dataset.prefetch(AUTOTUNE))

    def _tag(self, dataset):
        dataset.mtl_stream = self
        return dataset


def _constants(x):
    """Arrays as constant tensors (a dict of arrays stays a dict)."""
    if isinstance(x, dict):
        return {k: tf.constant(v) for k, v in x.items()}
    return tf.constant(x)

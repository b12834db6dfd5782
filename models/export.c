/* reel export: a model as a self-contained PyTorch module (Python source).
 *
 * The module's state_dict names and shapes are reel's parameter names and
 * shapes (layer "<name>.<PyTorch name>", seq2seq "encoder.weight_ih_l0",
 * "attn.W_q", ...), so a file reel writes loads with load_state_dict
 * unchanged, and its forward computes what reel computes with dropout off:
 * recurrent layers through pack_padded_sequence (outputs zero past each
 * length, the reverse direction starting at each sequence's own end, as
 * reel's driver), pooling masked by lengths, and for seq2seq the decoder
 * stepped by hand with reel's equations (layers/seq2seq.h).  Each model
 * also gets reel_loss(), reel's training loss for the task.
 *
 * Time-delay layers are a causal dilated conv1d over reel's weight layout
 * (class TDNN), residual stacks run a layer at a time through single-layer
 * twins sharing the stacked module's parameters, an mdn output is a Linear
 * with mixture() and the mixture's negative log-likelihood as reel_loss,
 * and a ctc model's reel_loss is PyTorch's ctc_loss.
 *
 * Everything is checked before anything is written: a layer kind PyTorch
 * lacks (mgu) is an error naming the layer and the file stays untouched. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

/* name as a Python string literal (names have no dots but may hold quotes) */
static void pystr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* v as a Python number, the shortest of %.15g and %.17g that reads back exactly */
static void pyfloat(FILE *f, double v)
{
	char b[40];
	snprintf(b, sizeof b, "%.15g", v);
	if (strtod(b, NULL) != v)
		snprintf(b, sizeof b, "%.17g", v);
	fputs(b, f);
}

static const char *rnn_class(const reel_cell *c)
{
	if (c == &reel_cell_lstm)
		return "nn.LSTM";
	if (c == &reel_cell_gru)
		return "nn.GRU";
	if (c == &reel_cell_rnn_tanh || c == &reel_cell_rnn_relu)
		return "nn.RNN";
	return NULL; /* mgu, a user's cell */
}

/* "nn.LSTM(5, 4, num_layers=2, bidirectional=True)" with the options that
 * differ from PyTorch's defaults */
static void rnn_ctor(FILE *f, const reel_rnn_opts *o, int input_size, int hidden)
{
	fprintf(f, "%s(%d, %d", rnn_class(o->cell), input_size, hidden);
	if (o->cell == &reel_cell_rnn_relu)
		fprintf(f, ", nonlinearity=\"relu\"");
	if (o->num_layers > 1)
		fprintf(f, ", num_layers=%d", o->num_layers);
	if (o->no_bias)
		fprintf(f, ", bias=False");
	if (o->bidirectional)
		fprintf(f, ", bidirectional=True");
	if (o->num_layers > 1 && o->dropout > 0) {
		fprintf(f, ", dropout=");
		pyfloat(f, o->dropout);
	}
	fputc(')', f);
}

static const char HEADER[] =
	"import json\n"
	"import struct\n"
	"import sys\n"
	"\n"
	"import torch\n"
	"from torch import nn\n"
	"from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n"
	"\n"
	"\n"
	"def load_safetensors(path):\n"
	"    \"\"\"{name: tensor} from a safetensors file (F32, F64, I32, I64), without the safetensors package.\"\"\"\n"
	"    with open(path, \"rb\") as f:\n"
	"        n = struct.unpack(\"<Q\", f.read(8))[0]\n"
	"        header = json.loads(f.read(n))\n"
	"        data = f.read()\n"
	"    types = {\"F32\": torch.float32, \"F64\": torch.float64, \"I32\": torch.int32, \"I64\": torch.int64}\n"
	"    out = {}\n"
	"    for name, info in header.items():\n"
	"        if name == \"__metadata__\":\n"
	"            continue\n"
	"        a, b = info[\"data_offsets\"]\n"
	"        dt = types[info[\"dtype\"]]\n"
	"        t = torch.frombuffer(bytearray(data[a:b]), dtype=dt) if b > a else torch.empty(0, dtype=dt)\n"
	"        out[name] = t.reshape(info[\"shape\"])\n"
	"    return out\n"
	"\n"
	"\n"
	"def step_mask(lengths, T, like):\n"
	"    \"\"\"(T, B, 1): 1 at each sequence's steps, 0 past its length.\"\"\"\n"
	"    steps = torch.arange(T, device=like.device).unsqueeze(1)\n"
	"    return (steps < lengths.to(like.device).unsqueeze(0)).unsqueeze(2).to(like.dtype)\n";

static const char RUN_RNN[] =
	"\n"
	"\n"
	"def run_rnn(rnn, x, lengths):\n"
	"    \"\"\"x (T, B, F) through rnn from zero states; outputs are zero past each length.\"\"\"\n"
	"    if lengths is None:\n"
	"        return rnn(x)[0]\n"
	"    packed = pack_padded_sequence(x, lengths.cpu().long(), enforce_sorted=False)\n"
	"    return pad_packed_sequence(rnn(packed)[0], total_length=x.shape[0])[0]\n";

static const char POOL[] =
	"\n"
	"\n"
	"def pool(x, lengths, mode):\n"
	"    \"\"\"(T, B, F) -> (B, F) over each sequence's own steps (reel's pool layer).\"\"\"\n"
	"    T, B = x.shape[0], x.shape[1]\n"
	"    if lengths is None:\n"
	"        lengths = torch.full((B,), T, dtype=torch.long)\n"
	"    lengths = lengths.to(x.device).long()\n"
	"    if mode == \"last\":\n"
	"        return x[lengths - 1, torch.arange(B, device=x.device)]\n"
	"    mask = step_mask(lengths, T, x)\n"
	"    if mode == \"mean\":\n"
	"        return (x * mask).sum(0) * (1.0 / lengths.to(x.dtype)).unsqueeze(1)\n"
	"    return x.masked_fill(mask == 0, float(\"-inf\")).amax(0)\n";

static const char RESIDUAL[] =
	"\n"
	"\n"
	"def residual_layers(rnn):\n"
	"    \"\"\"Single-layer twins of a stacked rnn that share its parameters (kept outside the module\n"
	"    tree, so the state_dict stays rnn's), to run reel's residual stack a layer at a time.\"\"\"\n"
	"    D = 2 if rnn.bidirectional else 1\n"
	"    kw = {\"nonlinearity\": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}\n"
	"    layers = []\n"
	"    for l in range(rnn.num_layers):\n"
	"        one = type(rnn)(rnn.input_size if l == 0 else D * rnn.hidden_size, rnn.hidden_size, bias=rnn.bias,\n"
	"                        bidirectional=rnn.bidirectional, **kw)\n"
	"        for name in one._flat_weights_names:\n"
	"            setattr(one, name, getattr(rnn, name.replace(\"_l0\", f\"_l{l}\")))\n"
	"        layers.append(one)\n"
	"    return layers\n"
	"\n"
	"\n"
	"def run_residual(layers, x, lengths):\n"
	"    \"\"\"reel's residual stack (GNMT, Wu et al. 2016): layer l >= 1 adds its input to its output\n"
	"    (both zero past each length).  reel's dropout between layers is training-only.\"\"\"\n"
	"    for l, one in enumerate(layers):\n"
	"        y = run_rnn(one, x, lengths)\n"
	"        x = y + x if l > 0 else y\n"
	"    return x\n";

static const char TDNN[] =
	"\n"
	"\n"
	"class TDNN(nn.Module):\n"
	"    \"\"\"reel's time-delay layer (Waibel et al. 1989), a causal dilated Conv1d over time:\n"
	"    y[t] = act(W [x[t]; x[t - d]; ...; x[t - (k - 1) d]] + b), zeros before the first step.\n"
	"    weight (O, k F) is reel's: block j holds the tap j d steps back (Conv1d's tap k - 1 - j).\"\"\"\n"
	"\n"
	"    def __init__(self, in_features, out_features, context, dilation, bias=True, act=None):\n"
	"        super().__init__()\n"
	"        self.k, self.d, self.act = context, dilation, act\n"
	"        self.weight = nn.Parameter(torch.empty(out_features, context * in_features))\n"
	"        if bias:\n"
	"            self.bias = nn.Parameter(torch.empty(out_features))\n"
	"        else:\n"
	"            self.register_parameter(\"bias\", None)\n"
	"\n"
	"    def forward(self, x):\n"
	"        \"\"\"x (T, B, F) -> (T, B, O)\"\"\"\n"
	"        O, F = self.weight.shape[0], x.shape[2]\n"
	"        w = self.weight.reshape(O, self.k, F).flip(1).permute(0, 2, 1)  # (O, F, k)\n"
	"        xp = nn.functional.pad(x.permute(1, 2, 0), ((self.k - 1) * self.d, 0))  # (B, F, (k - 1) d + T)\n"
	"        y = nn.functional.conv1d(xp, w, self.bias, dilation=self.d).permute(2, 0, 1)\n"
	"        return y if self.act is None else getattr(torch, self.act)(y)\n";

/* ---- lm, classify, tag, regress: the list of layers -------------------------------------------- */

static reel_status check_layers(const reel_model *m, reel_err *err)
{
	for (int i = 0; i < m->nlayers; i++) {
		const reel_layer *L = &m->layers[i];
		reel_layer_opts lo;
		reel__layer_opts(L, &lo);
		if (!strcmp(L->type->name, "jordan") || !strcmp(L->type->name, "narx"))
			return reel_err_set(err, REEL_ERR_ARG,
			                    "export: layer %d (\"%s\", type %s): output recurrence (the output fed back, teacher "
			                    "forcing) is not exported yet; nothing was written",
			                    i, L->name, L->type->name);
		if (lo.rnn && !rnn_class(lo.rnn->cell))
			return reel_err_set(err, REEL_ERR_ARG,
			                    "export: layer %d (\"%s\", type %s): PyTorch has no %s layer; nothing was written "
			                    "(replace it with lstm, gru or rnn to export the model)",
			                    i, L->name, L->type->name, lo.rnn->cell->name);
	}
	return REEL_OK;
}

static void shape_comment(FILE *f, const reel_flow *fl)
{
	if (fl->pooled)
		fprintf(f, "  # (B, %d)\n", fl->F);
	else
		fprintf(f, "  # (T, B, %d)\n", fl->F);
}

static void export_layers(const reel_model *m, FILE *f)
{
	int any_rnn = 0, any_pool = 0, any_res = 0, any_tdnn = 0, K = reel_model_mdn_components(m), O = m->info.outputs;
	for (int i = 0; i < m->nlayers; i++) {
		reel_layer_opts lo;
		reel__layer_opts(&m->layers[i], &lo);
		any_rnn |= lo.rnn != NULL;
		any_res |= lo.rnn && lo.rnn->residual;
		any_pool |= !strcmp(m->layers[i].type->name, "pool");
		any_tdnn |= !strcmp(m->layers[i].type->name, "tdnn");
	}
	if (any_rnn)
		fputs(RUN_RNN, f);
	if (any_res)
		fputs(RESIDUAL, f);
	if (any_pool)
		fputs(POOL, f);
	if (any_tdnn)
		fputs(TDNN, f);
	fprintf(f, "\n\nclass Model(nn.Module):\n");
	fprintf(f, "    \"\"\"%s: task %s, %d layers (reel's list, as nn.Sequential: submodule names are the layer names).\"\"\"\n\n",
	        reel_cfg_name(m->cfg), reel_task_name(m->task), m->nlayers);
	if (K)
		fprintf(f, "    mdn_components, mdn_outputs = %d, %d  # the mdn output's K and O\n\n", K, O);
	fprintf(f, "    def __init__(self):\n        super().__init__()\n");
	if (any_res)
		fprintf(f, "        self.residual = {}  # residual stacks: single-layer twins by layer name (not submodules)\n");
	int mods = 0;
	for (int i = 0; i < m->nlayers; i++) {
		const reel_layer *L = &m->layers[i];
		const char *tn = L->type->name;
		reel_layer_opts lo;
		reel__layer_opts(L, &lo);
		if (!strcmp(tn, "activation") || !strcmp(tn, "pool"))
			continue;
		fprintf(f, "        self.add_module(");
		pystr(f, L->name);
		fprintf(f, ", ");
		if (!strcmp(tn, "embedding")) {
			const reel_embedding *e = L->state;
			fprintf(f, "nn.Embedding(%d, %d))\n", e->num, e->dim);
		} else if (lo.rnn) {
			rnn_ctor(f, lo.rnn, lo.rnn->input_size, lo.rnn->hidden_size);
			fprintf(f, ")\n");
			if (lo.rnn->residual) {
				fprintf(f, "        self.residual[");
				pystr(f, L->name);
				fprintf(f, "] = residual_layers(self._modules[");
				pystr(f, L->name);
				fprintf(f, "])\n");
			}
			if (lo.rnn->recurrent_dropout > 0)
				fprintf(f, "        # recurrent_dropout (variational, on h before W_hh) is training-only in reel; "
				           "PyTorch's module has none, so only eval() outputs agree\n");
		} else if (!strcmp(tn, "dropout")) {
			fprintf(f, "nn.Dropout(");
			pyfloat(f, lo.p);
			fprintf(f, "))\n");
		} else if (!strcmp(tn, "linear") || !strcmp(tn, "mdn")) {
			const reel_linear *l = lo.lin ? lo.lin : L->state;
			fprintf(f, "nn.Linear(%d, %d%s))%s\n", l->in, l->out, l->bias ? "" : ", bias=False",
			        lo.lin ? "  # mdn: K mixture logits, K x O means, K x O log standard deviations" : "");
		} else if (!strcmp(tn, "tdnn")) {
			const reel_linear *l = lo.lin;
			fprintf(f, "TDNN(%d, %d, %d, %d%s", l->in / lo.context, l->out, lo.context, lo.dilation,
			        l->bias ? "" : ", bias=False");
			if (lo.mode)
				fprintf(f, ", act=\"%s\"", lo.mode);
			fprintf(f, "))\n");
		} else {
			fprintf(f, "None)  # layer type %s has no PyTorch twin\n", tn);
		}
		mods++;
	}
	if (!mods)
		fprintf(f, "        pass\n");
	fprintf(f, "\n    def forward(self, inputs, lengths=None):\n");
	fprintf(f, "        \"\"\"inputs: time-major %s; lengths: (B) or None (every sequence T steps).\"\"\"\n",
	        m->info.tokens_in ? "token ids (T, B)" : "features (T, B, F)");
	fprintf(f, "        x = inputs\n");
	for (int i = 0; i < m->nlayers; i++) {
		const reel_layer *L = &m->layers[i];
		const char *tn = L->type->name;
		reel_layer_opts lo;
		reel__layer_opts(L, &lo);
		fprintf(f, "        x = ");
		if (!strcmp(tn, "activation")) {
			fprintf(f, "torch.%s(x)", lo.mode);
		} else if (!strcmp(tn, "pool")) {
			fprintf(f, "pool(x, lengths, \"%s\")", lo.mode);
		} else {
			if (lo.rnn && !lo.rnn->residual)
				fprintf(f, "run_rnn(");
			if (lo.rnn && lo.rnn->residual) {
				fprintf(f, "run_residual(self.residual[");
				pystr(f, L->name);
				fprintf(f, "], x, lengths)");
			} else {
				fprintf(f, "self._modules[");
				pystr(f, L->name);
				fprintf(f, lo.rnn ? "], x, lengths)" : "](x)");
			}
		}
		shape_comment(f, &L->out);
	}
	fprintf(f, "        return x\n");
	if (K) {
		fprintf(f, "\n    def mixture(self, outputs):\n");
		fprintf(f, "        \"\"\"The mdn output as reel reads it (reel_mdn_nll): weights pi = softmax(a) (..., K),\n"
		           "        means (..., K, O), standard deviations exp(s) (..., K, O) (variances exp(2 s)).\"\"\"\n");
		fprintf(f, "        K, O = self.mdn_components, self.mdn_outputs\n");
		fprintf(f, "        a, mu, s = outputs.split([K, K * O, K * O], -1)\n");
		fprintf(f, "        return torch.softmax(a, -1), mu.unflatten(-1, (K, O)), s.exp().unflatten(-1, (K, O))\n");
	}
	fprintf(f, "\n    def reel_loss(self, outputs, %s, lengths=None):\n",
	        m->task == REEL_TASK_REGRESS ? "targets" : "labels");
	if (K) {
		fprintf(f, "        \"\"\"reel's loss: the mixture's negative log-likelihood of the targets, a mean over %s.\"\"\"\n",
		        m->data_opts.per_step ? "the steps within each length" : "sequences");
		fprintf(f, "        K, O = self.mdn_components, self.mdn_outputs\n");
		fprintf(f, "        a, mu, s = outputs.split([K, K * O, K * O], -1)\n");
		fprintf(f, "        normal = torch.distributions.Normal(mu.unflatten(-1, (K, O)), s.exp().unflatten(-1, (K, O)))\n");
		fprintf(f, "        nll = -(torch.log_softmax(a, -1) + normal.log_prob(targets.unsqueeze(-2)).sum(-1)).logsumexp(-1)\n");
		if (m->data_opts.per_step) {
			fprintf(f, "        if lengths is None:\n            return nll.mean()\n");
			fprintf(f, "        return (nll * step_mask(lengths, nll.shape[0], nll)[:, :, 0]).sum() / lengths.sum()\n");
		} else {
			fprintf(f, "        return nll.mean()\n");
		}
		return;
	}
	switch (m->task) {
	case REEL_TASK_CTC:
		fprintf(f, "        \"\"\"reel's loss: CTC (blank 0) on log_softmax(outputs), PyTorch's 'mean' reduction;\n"
		           "        labels (T, B) left-aligned, -100 after each sequence's.\"\"\"\n");
		fprintf(f, "        T, B = labels.shape\n");
		fprintf(f, "        if lengths is None:\n            lengths = torch.full((B,), outputs.shape[0], dtype=torch.long)\n");
		fprintf(f, "        return nn.functional.ctc_loss(outputs.log_softmax(-1), labels.t().clamp(min=0).long(), "
		           "lengths.long(),\n                                      (labels != -100).sum(0).long(), blank=0, "
		           "reduction=\"mean\")\n");
		break;
	case REEL_TASK_REGRESS:
		if (m->data_opts.per_step) {
			fprintf(f, "        \"\"\"reel's loss: mean squared error over the values of the steps within each length.\"\"\"\n");
			fprintf(f, "        d = outputs - targets\n");
			fprintf(f, "        if lengths is None:\n            return (d * d).mean()\n");
			fprintf(f, "        d = d * step_mask(lengths, d.shape[0], d)\n");
			fprintf(f, "        return (d * d).sum() / (lengths.sum() * d.shape[2])\n");
		} else {
			fprintf(f, "        \"\"\"reel's loss: mean squared error over (B, O).\"\"\"\n");
			fprintf(f, "        d = outputs - targets\n        return (d * d).mean()\n");
		}
		break;
	default:
		fprintf(f, "        \"\"\"reel's loss: mean cross-entropy over the labels that are not -100.\"\"\"\n");
		fprintf(f, "        return nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), "
		           "labels.reshape(-1).long(), ignore_index=-100)\n");
		break;
	}
}

/* ---- seq2seq ----------------------------------------------------------------------------------- */

static const char ATTENTION[] =
	"\n"
	"\n"
	"class Attention(nn.Module):\n"
	"    \"\"\"reel's attention (layers/seq2seq.h) over keys (S, B, K) for a query (B, Q):\n"
	"    dot v = s . h_j; general s^T W h_j, W (Q, K); additive v^T tanh(W_q s + W_k h_j),\n"
	"    W_q (A, Q), W_k (A, K), v (1, A).  Padding gets weight 0.\"\"\"\n"
	"\n"
	"    def __init__(self, kind, query_size, key_size, attn_size):\n"
	"        super().__init__()\n"
	"        self.kind = kind\n"
	"        if kind == \"general\":\n"
	"            self.W = nn.Parameter(torch.empty(query_size, key_size))\n"
	"        elif kind == \"additive\":\n"
	"            self.W_q = nn.Parameter(torch.empty(attn_size, query_size))\n"
	"            self.W_k = nn.Parameter(torch.empty(attn_size, key_size))\n"
	"            self.v = nn.Parameter(torch.empty(1, attn_size))\n"
	"\n"
	"    def memory(self, keys, lengths):\n"
	"        \"\"\"What every decoder step reuses: keys (B, S, K), W_k h_j (S, B, A), the padding mask (B, S).\"\"\"\n"
	"        proj = keys @ self.W_k.t() if self.kind == \"additive\" else None\n"
	"        pad = step_mask(lengths, keys.shape[0], keys)[:, :, 0].t() == 0\n"
	"        return keys.transpose(0, 1), proj, pad\n"
	"\n"
	"    def forward(self, mem, query):\n"
	"        keys, proj, pad = mem\n"
	"        if self.kind == \"additive\":\n"
	"            e = torch.tanh(proj + query @ self.W_q.t())  # (S, B, A)\n"
	"            score = (e @ self.v.t())[:, :, 0].t()  # (B, S)\n"
	"        else:\n"
	"            q = query @ self.W if self.kind == \"general\" else query\n"
	"            score = (keys @ q.unsqueeze(2))[:, :, 0]\n"
	"        w = torch.softmax(score.masked_fill(pad, float(\"-inf\")), dim=1)\n"
	"        return (w.unsqueeze(1) @ keys)[:, 0], w\n";

static void export_s2s(const reel_model *m, FILE *f)
{
	const reel_seq2seq *s = &m->s2s;
	const reel_seq2seq_opts *o = &s->o;
	int H = o->hidden_size, E = o->emb_size, V = o->tgt_vocab, lstm = o->cell == &reel_cell_lstm;
	int attn = o->attention != REEL_ATTN_NONE;
	fputs(RUN_RNN, f);
	if (attn)
		fputs(ATTENTION, f);
	fprintf(f, "\n\nclass Model(nn.Module):\n");
	fprintf(f, "    \"\"\"%s: seq2seq, %s cells, encoder %d layer%s%s, decoder %d layer%s, attention %s%s%s%s.\n",
	        reel_cfg_name(m->cfg), o->cell->name, o->enc_layers, o->enc_layers > 1 ? "s" : "",
	        o->bidirectional ? " bidirectional" : "", o->dec_layers, o->dec_layers > 1 ? "s" : "",
	        reel_attn_kind_name(o->attention), o->input_feeding ? ", input feeding" : "",
	        o->bridge ? ", bridge" : "", o->tie_embeddings ? ", tied embeddings" : "");
	fprintf(f, "    Target ids: pad %d, bos %d, eos %d.  Per decoder step (Luong et al. 2015):\n", o->pad, o->bos, o->eos);
	fprintf(f, "      x_t = [emb(y_{t-1})%s]; h_t = decoder(x_t, state)%s\n", o->input_feeding ? "; h~_{t-1}" : "",
	        attn ? "; c_t = attn(h_t, encoder outputs)" : "");
	fprintf(f, "      h~_t = %s; logits = out(h~_t)\"\"\"\n\n", attn ? "tanh(combine([c_t; h_t]))" : "h_t");
	fprintf(f, "    pad, bos, eos = %d, %d, %d\n\n", o->pad, o->bos, o->eos);
	fprintf(f, "    def __init__(self):\n        super().__init__()\n");
	fprintf(f, "        self.src_emb = nn.Embedding(%d, %d)\n", o->src_vocab, E);
	fprintf(f, "        self.tgt_emb = nn.Embedding(%d, %d)\n", V, E);
	fprintf(f, "        self.encoder = ");
	rnn_ctor(f, &s->enc.o, E, s->enc.o.hidden_size);
	fprintf(f, "\n        self.decoder = ");
	rnn_ctor(f, &s->dec.o, s->dec.o.input_size, H);
	fprintf(f, "  # stepped by hand\n");
	if (attn)
		fprintf(f, "        self.attn = Attention(\"%s\", %d, %d, %d)\n", reel_attn_kind_name(o->attention), H, H,
		        s->attn.attn_size);
	if (o->bridge) {
		fprintf(f, "        self.bridge_h = nn.Linear(%d, %d)\n", H, H);
		if (lstm)
			fprintf(f, "        self.bridge_c = nn.Linear(%d, %d)\n", H, H);
	}
	if (attn)
		fprintf(f, "        self.combine = nn.Linear(%d, %d, bias=False)\n", 2 * H, H);
	fprintf(f, "        self.out = nn.Linear(%d, %d)%s\n", H, V,
	        o->tie_embeddings ? "  # out.weight is unused: the output shares tgt_emb.weight (reel keeps it, frozen)" : "");
	fprintf(f, "        self.drop = nn.Dropout(");
	pyfloat(f, o->dropout);
	fprintf(f, ")\n");

	fprintf(f, "\n    def encode(self, src, src_len):\n");
	fprintf(f, "        \"\"\"src (S, B) ids, src_len (B): the attention memory and the decoder's initial state.\"\"\"\n");
	fprintf(f, "        S, B = src.shape\n");
	fprintf(f, "        x = self.drop(self.src_emb(src))\n");
	fprintf(f, "        packed = pack_padded_sequence(x, src_len.cpu().long(), enforce_sorted=False)\n");
	fprintf(f, "        y, fin = self.encoder(packed)\n");
	fprintf(f, "        y = pad_packed_sequence(y, total_length=S)[0]  # (S, B, %d)\n", H);
	fprintf(f, attn ? "        mem = self.attn.memory(y, src_len)\n" : "        mem = None\n");
	if (o->bridge) {
		int D = o->bidirectional ? 2 : 1;
		fprintf(f, "        # bridge: tanh(W_b [the top layer's final states, both directions] + b_b)\n");
		fprintf(f, "        h_n, c_n = %s\n", lstm ? "fin" : "fin, None");
		fprintf(f, "        h = torch.tanh(self.bridge_h(%s))\n", D == 2 ? "torch.cat([h_n[-2], h_n[-1]], 1)" : "h_n[-1]");
		if (lstm)
			fprintf(f, "        c = torch.tanh(self.bridge_c(%s))\n", D == 2 ? "torch.cat([c_n[-2], c_n[-1]], 1)" : "c_n[-1]");
	} else {
		fprintf(f, "        h = y.new_zeros(B, %d)\n", H);
		if (lstm)
			fprintf(f, "        c = h\n");
	}
	fprintf(f, "        h0 = h.unsqueeze(0).repeat(%d, 1, 1)\n", o->dec_layers);
	if (lstm)
		fprintf(f, "        state = (h0, c.unsqueeze(0).repeat(%d, 1, 1))\n", o->dec_layers);
	else
		fprintf(f, "        state = h0\n");
	fprintf(f, "        return mem, state, y.new_zeros(B, %d)\n", H);

	fprintf(f, "\n    def step(self, mem, state, feed, ids):\n");
	fprintf(f, "        \"\"\"One decoder step from input ids (B): logits (B, %d), the new state, h~, attention weights.\"\"\"\n", V);
	fprintf(f, "        x = self.drop(self.tgt_emb(ids))\n");
	if (o->input_feeding)
		fprintf(f, "        x = torch.cat([x, feed], 1)\n");
	fprintf(f, "        h, state = self.decoder(x.unsqueeze(0), state)\n");
	fprintf(f, "        h = h[0]\n");
	if (attn) {
		fprintf(f, "        c, w = self.attn(mem, h)\n");
		fprintf(f, "        hat = torch.tanh(self.combine(torch.cat([c, h], 1)))\n");
	} else {
		fprintf(f, "        hat, w = h, None\n");
	}
	if (o->tie_embeddings)
		fprintf(f, "        logits = nn.functional.linear(self.drop(hat), self.tgt_emb.weight, self.out.bias)\n");
	else
		fprintf(f, "        logits = self.out(self.drop(hat))\n");
	fprintf(f, "        return logits, state, hat, w\n");

	fprintf(f, "\n    def forward(self, src, src_len, tgt):\n");
	fprintf(f, "        \"\"\"Teacher forcing: logits (T, B, %d) for tgt (T, B), the decoder's inputs being bos, tgt[:-1].\"\"\"\n", V);
	fprintf(f, "        mem, state, feed = self.encode(src, src_len)\n");
	fprintf(f, "        ids = torch.full_like(tgt[0], self.bos)\n");
	fprintf(f, "        logits = []\n");
	fprintf(f, "        for t in range(tgt.shape[0]):\n");
	fprintf(f, "            out, state, feed, _ = self.step(mem, state, feed, ids)\n");
	fprintf(f, "            logits.append(out)\n");
	fprintf(f, "            ids = tgt[t]\n");
	fprintf(f, "        return torch.stack(logits)\n");

	fprintf(f, "\n    def reel_loss(self, logits, tgt):\n");
	fprintf(f, "        \"\"\"reel's loss: mean cross-entropy over the target tokens that are not pad.\"\"\"\n");
	fprintf(f, "        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1).long(), "
	           "ignore_index=self.pad)\n");
}

/* ---- the file ----------------------------------------------------------------------------------- */

reel_status reel_model_export(const reel_model *m, const char *params_path, FILE *f, reel_err *err)
{
	if (m->is_s2s) {
		if (!rnn_class(m->s2s.o.cell))
			return reel_err_set(err, REEL_ERR_ARG,
			                    "export: the seq2seq model's cell is %s: PyTorch has no such layer; nothing was "
			                    "written (use lstm, gru or rnn to export the model)",
			                    m->s2s.o.cell->name);
	} else if (check_layers(m, err) != REEL_OK) {
		return err->code;
	}
	fprintf(f, "# PyTorch module for %s, written by `reel export`.\n", reel_cfg_name(m->cfg));
	fprintf(f, "# Its state_dict names and shapes are reel's parameters: files reel writes (and\n"
	           "# `reel grad --params` reads) load with load_state_dict unchanged.  forward computes\n"
	           "# what reel computes with dropout off (model.eval()); reel_loss is reel's training loss.\n"
	           "# Run it to load a parameter file: python3 THIS.py [FILE.safetensors]\n");
	fputs(HEADER, f);
	if (m->is_s2s)
		export_s2s(m, f);
	else
		export_layers(m, f);
	fprintf(f, "\n\nif __name__ == \"__main__\":\n");
	if (params_path) {
		fprintf(f, "    path = sys.argv[1] if len(sys.argv) > 1 else ");
		pystr(f, params_path);
		fprintf(f, "\n");
	} else {
		fprintf(f, "    if len(sys.argv) < 2:\n        sys.exit(\"usage: python3 %%s FILE.safetensors\" %% sys.argv[0])\n");
		fprintf(f, "    path = sys.argv[1]\n");
	}
	fprintf(f, "    model = Model().double().eval()\n");
	fprintf(f, "    model.load_state_dict(load_safetensors(path))  # strict: every name and shape must match\n");
	fprintf(f, "    print(f\"loaded {len(model.state_dict())} tensors from {path}\")\n");
	return ferror(f) ? reel_err_set(err, REEL_ERR_IO, "export: write error") : REEL_OK;
}

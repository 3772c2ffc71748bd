"""Functions of every shape py_find_function / py_code_read must handle (recorded into
tests/unit/data by tools/pydump/record.sh). Line numbers matter to the tests: re-record after
editing."""
import functools


def plain(x):
    if x > 10:
        return x * 2
    return x + 1


def many_returns(x):
    if x == 0:
        return "zero"
    if x == 1:
        return "one"
    if x == 2:
        return None
    try:
        return 10 // x
    finally:
        x = 0


def gen(n):
    for i in range(n):
        yield i
    return n


async def coro(x):
    return x


def deco(f):
    @functools.wraps(f)
    def wrapper(*a, **k):
        return f(*a, **k)
    return wrapper


def deco_nowraps(f):
    def inner(*a, **k):
        return f(*a, **k)
    return inner


@deco
def decorated(x):
    return x + 1


@deco_nowraps
def decorated_plain(x):
    return x - 1


@functools.lru_cache(maxsize=None)
def cached(x):
    return x * 3


def café(x):
    return x


alias = plain


class Outer:
    def method(self, x):
        y = x + 1
        return y

    @staticmethod
    def smeth(x):
        return x

    @classmethod
    def cmeth(cls, x):
        return cls, x

    @property
    def prop(self):
        return 42

    @deco
    def dmeth(self, x):
        return x

    class Inner:
        def deep(self, y):
            return y

        class Innermost:
            def deepest(self):
                return "deep"


def monitored(x):
    total = 0
    for i in range(x):
        total += i
    return total


def big(x):
    """Over 256 constants: LOAD_CONST needs EXTENDED_ARG, and many cached BINARY_OPs."""
    x += 100000
    x += 100001
    x += 100002
    x += 100003
    x += 100004
    x += 100005
    x += 100006
    x += 100007
    x += 100008
    x += 100009
    x += 100010
    x += 100011
    x += 100012
    x += 100013
    x += 100014
    x += 100015
    x += 100016
    x += 100017
    x += 100018
    x += 100019
    x += 100020
    x += 100021
    x += 100022
    x += 100023
    x += 100024
    x += 100025
    x += 100026
    x += 100027
    x += 100028
    x += 100029
    x += 100030
    x += 100031
    x += 100032
    x += 100033
    x += 100034
    x += 100035
    x += 100036
    x += 100037
    x += 100038
    x += 100039
    x += 100040
    x += 100041
    x += 100042
    x += 100043
    x += 100044
    x += 100045
    x += 100046
    x += 100047
    x += 100048
    x += 100049
    x += 100050
    x += 100051
    x += 100052
    x += 100053
    x += 100054
    x += 100055
    x += 100056
    x += 100057
    x += 100058
    x += 100059
    x += 100060
    x += 100061
    x += 100062
    x += 100063
    x += 100064
    x += 100065
    x += 100066
    x += 100067
    x += 100068
    x += 100069
    x += 100070
    x += 100071
    x += 100072
    x += 100073
    x += 100074
    x += 100075
    x += 100076
    x += 100077
    x += 100078
    x += 100079
    x += 100080
    x += 100081
    x += 100082
    x += 100083
    x += 100084
    x += 100085
    x += 100086
    x += 100087
    x += 100088
    x += 100089
    x += 100090
    x += 100091
    x += 100092
    x += 100093
    x += 100094
    x += 100095
    x += 100096
    x += 100097
    x += 100098
    x += 100099
    x += 100100
    x += 100101
    x += 100102
    x += 100103
    x += 100104
    x += 100105
    x += 100106
    x += 100107
    x += 100108
    x += 100109
    x += 100110
    x += 100111
    x += 100112
    x += 100113
    x += 100114
    x += 100115
    x += 100116
    x += 100117
    x += 100118
    x += 100119
    x += 100120
    x += 100121
    x += 100122
    x += 100123
    x += 100124
    x += 100125
    x += 100126
    x += 100127
    x += 100128
    x += 100129
    x += 100130
    x += 100131
    x += 100132
    x += 100133
    x += 100134
    x += 100135
    x += 100136
    x += 100137
    x += 100138
    x += 100139
    x += 100140
    x += 100141
    x += 100142
    x += 100143
    x += 100144
    x += 100145
    x += 100146
    x += 100147
    x += 100148
    x += 100149
    x += 100150
    x += 100151
    x += 100152
    x += 100153
    x += 100154
    x += 100155
    x += 100156
    x += 100157
    x += 100158
    x += 100159
    x += 100160
    x += 100161
    x += 100162
    x += 100163
    x += 100164
    x += 100165
    x += 100166
    x += 100167
    x += 100168
    x += 100169
    x += 100170
    x += 100171
    x += 100172
    x += 100173
    x += 100174
    x += 100175
    x += 100176
    x += 100177
    x += 100178
    x += 100179
    x += 100180
    x += 100181
    x += 100182
    x += 100183
    x += 100184
    x += 100185
    x += 100186
    x += 100187
    x += 100188
    x += 100189
    x += 100190
    x += 100191
    x += 100192
    x += 100193
    x += 100194
    x += 100195
    x += 100196
    x += 100197
    x += 100198
    x += 100199
    x += 100200
    x += 100201
    x += 100202
    x += 100203
    x += 100204
    x += 100205
    x += 100206
    x += 100207
    x += 100208
    x += 100209
    x += 100210
    x += 100211
    x += 100212
    x += 100213
    x += 100214
    x += 100215
    x += 100216
    x += 100217
    x += 100218
    x += 100219
    x += 100220
    x += 100221
    x += 100222
    x += 100223
    x += 100224
    x += 100225
    x += 100226
    x += 100227
    x += 100228
    x += 100229
    x += 100230
    x += 100231
    x += 100232
    x += 100233
    x += 100234
    x += 100235
    x += 100236
    x += 100237
    x += 100238
    x += 100239
    x += 100240
    x += 100241
    x += 100242
    x += 100243
    x += 100244
    x += 100245
    x += 100246
    x += 100247
    x += 100248
    x += 100249
    x += 100250
    x += 100251
    x += 100252
    x += 100253
    x += 100254
    x += 100255
    x += 100256
    x += 100257
    x += 100258
    x += 100259
    x += 100260
    x += 100261
    x += 100262
    x += 100263
    x += 100264
    x += 100265
    x += 100266
    x += 100267
    x += 100268
    x += 100269
    x += 100270
    x += 100271
    x += 100272
    x += 100273
    x += 100274
    x += 100275
    x += 100276
    x += 100277
    x += 100278
    x += 100279
    if x < 0:
        return -x
    return x

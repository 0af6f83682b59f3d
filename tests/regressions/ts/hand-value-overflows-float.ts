@problemName H
@univariate true
@classLabel true a b
@data
1e39,2:a
-1e400,3:b
